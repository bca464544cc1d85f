package upstream

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"time"
)

// SavedSets keeps the last good set of each cluster in a directory, so a
// restart while the registry is down can serve what was known before.
// Each cluster is one JSON file, replaced atomically (temp file + rename).
type SavedSets struct {
	dir string
}

// savedSet is the on-disk form of one cluster's set.
type savedSet struct {
	Cluster   string    `json:"cluster"`
	SavedAt   time.Time `json:"saved_at"`
	Endpoints []string  `json:"endpoints"`
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]`)

// NewSavedSets returns a store in dir, creating it if needed.
func NewSavedSets(dir string) (*SavedSets, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("state dir %s: %w", dir, err)
	}
	return &SavedSets{dir: dir}, nil
}

func (s *SavedSets) path(cluster string) string {
	return filepath.Join(s.dir, unsafeName.ReplaceAllString(cluster, "_")+".json")
}

// Save records eps as cluster's last good set.
func (s *SavedSets) Save(cluster string, eps []Endpoint) error {
	data, err := json.Marshal(savedSet{Cluster: cluster, SavedAt: time.Now().UTC(), Endpoints: Addrs(eps)})
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(s.dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("save set %s: %w", cluster, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("save set %s: %w", cluster, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save set %s: %w", cluster, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save set %s: %w", cluster, err)
	}
	if err := os.Rename(tmp.Name(), s.path(cluster)); err != nil {
		return fmt.Errorf("save set %s: %w", cluster, err)
	}
	return nil
}

// Load returns cluster's saved set; (nil, nil) when none was saved.
func (s *SavedSets) Load(cluster string) ([]Endpoint, error) {
	data, err := os.ReadFile(s.path(cluster))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load set %s: %w", cluster, err)
	}
	var set savedSet
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("load set %s: %w", cluster, err)
	}
	eps := make([]Endpoint, len(set.Endpoints))
	for i, a := range set.Endpoints {
		eps[i] = Endpoint{Addr: a}
	}
	return eps, nil
}
