package metrics

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// metricName matches a metric name written as a Go string literal; by the
// convention in docs/admin.md every strait metric's full name is one.
var metricName = regexp.MustCompile(`"(strait_[a-z0-9_]+)"`)

// TestEveryMetricIsDocumented holds docs/admin.md to being the list of
// every metric: each strait_* name in the non-test Go source must appear
// in one of its tables, and each name in a table must still be in the code.
func TestEveryMetricIsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/admin.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(strait_[a-z0-9_]+)`").FindAllStringSubmatch(string(doc), -1) {
		documented[m[1]] = true
	}
	inCode := map[string]string{}
	err = filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && path != ".." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range metricName.FindAllStringSubmatch(string(src), -1) {
			inCode[m[1]] = path
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(inCode) < 20 {
		t.Fatalf("found only %d metric names in the source; is the walk reading it?", len(inCode))
	}
	for name, path := range inCode {
		if !documented[name] && name != "strait_build_info" {
			t.Errorf("%s (%s) is not in a table of docs/admin.md", name, path)
		}
	}
	if !strings.Contains(string(doc), "`strait_build_info{") {
		t.Error("docs/admin.md does not mention strait_build_info")
	}
	for name := range documented {
		if _, ok := inCode[name]; !ok {
			t.Errorf("docs/admin.md lists %s, which no code defines", name)
		}
	}
}
