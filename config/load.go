package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Error is a configuration error about one field.
type Error struct {
	// Path names the field, e.g. "clusters.user.endpoints[1]".
	Path string
	Msg  string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return "config: " + e.Msg
	}
	return "config: " + e.Path + ": " + e.Msg
}

func errorf(path, format string, args ...any) *Error {
	return &Error{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// LoadFile reads, parses and validates the file at path.
func LoadFile(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{Msg: err.Error()}
	}
	return Parse(data)
}

// envRef is a ${NAME} reference to an environment variable.
var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandEnv replaces ${NAME} with the variable's value, so one file can
// serve several environments (paths of mounted secrets, addresses). An
// unset variable is an error rather than an empty string.
func expandEnv(data []byte) ([]byte, error) {
	var missing string
	out := envRef.ReplaceAllFunc(data, func(ref []byte) []byte {
		name := string(envRef.FindSubmatch(ref)[1])
		v, ok := os.LookupEnv(name)
		if !ok && missing == "" {
			missing = name
		}
		return []byte(v)
	})
	if missing != "" {
		return nil, &Error{Msg: fmt.Sprintf("${%s}: environment variable is not set", missing)}
	}
	return out, nil
}

// Parse parses and validates a configuration, filling in defaults.
// ${NAME} references are replaced by environment variables first.
func Parse(data []byte) (*Config, error) {
	data, err := expandEnv(data)
	if err != nil {
		return nil, err
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, &Error{Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	if len(root.Content) == 0 {
		return nil, &Error{Msg: "empty file"}
	}
	if err := checkKeys(root.Content[0], reflect.TypeFor[Config](), ""); err != nil {
		return nil, err
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, &Error{Msg: oneLine(err)}
	}
	c.applyDefaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// oneLine folds yaml's multi-line type errors into one line.
func oneLine(err error) string {
	s := strings.TrimPrefix(err.Error(), "yaml: unmarshal errors:\n")
	return strings.Join(strings.Fields(s), " ")
}

// checkKeys walks the document beside the Go type it decodes into and
// reports the first unknown key with its path, which the yaml decoder's own
// KnownFields error does not give.
func checkKeys(n *yaml.Node, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case n.Kind == yaml.AliasNode:
		return checkKeys(n.Alias, t, path)
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
		return checkStruct(n, t, path)
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Map:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if err := checkKeys(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value)); err != nil {
				return err
			}
		}
	case n.Kind == yaml.SequenceNode && t.Kind() == reflect.Slice:
		for i, item := range n.Content {
			if err := checkKeys(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case n.Kind == yaml.ScalarNode:
		return checkScalar(n, t, path)
	case n.Kind == yaml.SequenceNode || n.Kind == yaml.MappingNode:
		if t.Kind() != reflect.Interface {
			return errorf(path, "got %s, want %s", nodeName(n), kindName(t))
		}
	}
	return nil
}

func nodeName(n *yaml.Node) string {
	if n.Kind == yaml.SequenceNode {
		return "a list"
	}
	return "a mapping"
}

// checkScalar decodes one value on its own so a bad value is reported
// with its field's path.
func checkScalar(n *yaml.Node, t reflect.Type, path string) error {
	err := n.Decode(reflect.New(t).Interface())
	if err == nil {
		return nil
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return errorf(path, "%q is not %s", n.Value, kindName(t))
	}
	return errorf(path, "%s", err)
}

func kindName(t reflect.Type) string {
	switch {
	case t == reflect.TypeFor[time.Duration]():
		return "a duration (like 500ms, 5s, 1m)"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Float64:
		return "a number"
	case t.Kind() == reflect.Slice:
		return "a list"
	case t.Kind() == reflect.Struct || t.Kind() == reflect.Map:
		return "a mapping"
	default:
		return "a " + t.String()
	}
}

func checkStruct(n *yaml.Node, t reflect.Type, path string) error {
	fields := map[string]reflect.Type{}
	var known []string
	addFields(t, fields, &known)
	for i := 0; i+1 < len(n.Content); i += 2 {
		key := n.Content[i].Value
		ft, ok := fields[key]
		if !ok {
			return errorf(join(path, key), "unknown field (line %d; known: %s)", n.Content[i].Line, strings.Join(known, ", "))
		}
		if err := checkKeys(n.Content[i+1], ft, join(path, key)); err != nil {
			return err
		}
	}
	return nil
}

// addFields collects the YAML keys of t, including those of inlined
// structs.
func addFields(t reflect.Type, fields map[string]reflect.Type, known *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if opts == "inline" {
			addFields(f.Type, fields, known)
			continue
		}
		if name == "" || name == "-" {
			continue
		}
		fields[name] = f.Type
		*known = append(*known, name)
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
