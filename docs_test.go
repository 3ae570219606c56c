package channels

import (
	"io/fs"
	"os"
	"path"
	"regexp"
	"strings"
	"testing"
)

// mdLink is a Markdown link's target: [text](target).
var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// TestRepositoryStandsAlone checks that a clone has everything its
// documents point at: every relative link of a Markdown file names a file
// in the repository, and no file names a path outside it.
func TestRepositoryStandsAlone(t *testing.T) {
	root := os.DirFS(".")
	outside := regexp.MustCompile(`\.\./shared|/work/`)
	err := fs.WalkDir(root, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		hidden := strings.HasPrefix(d.Name(), ".") && name != "."
		if d.IsDir() {
			if hidden || d.Name() == "testdata" {
				return fs.SkipDir
			}
			return nil
		}
		if hidden || name == "docs_test.go" {
			return nil
		}
		data, err := fs.ReadFile(root, name)
		if err != nil {
			return err
		}
		if m := outside.Find(data); m != nil {
			t.Errorf("%s names %q, outside the repository", name, m)
		}
		if !strings.HasSuffix(name, ".md") {
			return nil
		}
		for _, m := range mdLink.FindAllSubmatch(data, -1) {
			target := string(m[1])
			if strings.Contains(target, "://") || strings.HasPrefix(target, "#") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			target, _, _ = strings.Cut(target, "#")
			p := path.Join(path.Dir(name), target)
			if !fs.ValidPath(p) {
				t.Errorf("%s links to %s, outside the repository", name, m[1])
				continue
			}
			if _, err := fs.Stat(root, p); err != nil {
				t.Errorf("%s links to %s, which the repository does not have", name, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Stat(root, "docs/design.md"); err != nil {
		t.Errorf("the design document is missing: %v", err)
	}
}
