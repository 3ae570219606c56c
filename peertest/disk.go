package peertest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// SmallDisk mounts a tmpfs of size (mount's size=, e.g. "4m") on a new
// directory of the test's and returns it, unmounted when the test ends:
// a disk that fills up for real, for the tests of a full disk. Mounting
// needs root, as the suite has in CI (scripts/peers installs as root):
// elsewhere the test is skipped, or fails under CHANNELS_PEERS=require.
func SmallDisk(t testing.TB, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		msg := "mounting a small tmpfs for a full disk needs root"
		if os.Getenv(envRequire) == "require" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	disk := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(disk, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", disk).CombinedOutput(); err != nil {
		t.Fatalf("mount a tmpfs: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", disk).CombinedOutput(); err != nil {
			t.Errorf("unmount %s: %v\n%s", disk, err, out)
		}
	})
	return disk
}
