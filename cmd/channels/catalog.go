package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/govchannels/channels/flows"
	"github.com/govchannels/channels/locales"
	"github.com/govchannels/channels/services"
)

// catalogFS returns the service files of dir (the shipped ones when dir is
// empty) and the messages they use: the shipped ones with the message files
// of dir/locales on top.
func catalogFS(dir string) (fs.FS, *locales.Bundle, error) {
	var svcFS fs.FS = services.FS
	var extra []fs.FS
	if dir != "" {
		info, err := os.Stat(dir)
		if err != nil {
			return nil, nil, fmt.Errorf("service catalog: %w", err)
		}
		if !info.IsDir() {
			return nil, nil, fmt.Errorf("service catalog %s is not a directory", dir)
		}
		svcFS = os.DirFS(dir)
		if info, err := os.Stat(filepath.Join(dir, "locales")); err == nil && info.IsDir() {
			extra = append(extra, os.DirFS(filepath.Join(dir, "locales")))
		}
	}
	bundle, err := locales.New(extra...)
	if err != nil {
		return nil, nil, fmt.Errorf("load messages: %w", err)
	}
	return svcFS, bundle, nil
}

// catalog loads the service definitions and the messages they use: the
// shipped ones when dir is empty, else the YAML files in dir with the
// message files in dir/locales on top of the shipped messages. A catalog
// that fails to load returns flows.Problems.
func catalog(dir string) (*flows.Catalog, *locales.Bundle, error) {
	svcFS, bundle, err := catalogFS(dir)
	if err != nil {
		return nil, nil, err
	}
	cat, err := flows.Load(svcFS)
	if err != nil {
		return nil, nil, err
	}
	return cat, bundle, nil
}
