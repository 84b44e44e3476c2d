package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/clipfs/clipfs/curate/modeltest"
)

func main() {
	out := flag.String("out", "", "folder to write the models into")
	flag.Parse()
	if *out == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: randmodels -out DIR")
		os.Exit(2)
	}
	if err := write(*out); err != nil {
		fmt.Fprintln(os.Stderr, "randmodels:", err)
		os.Exit(1)
	}
}

func write(dir string) error {
	if err := modeltest.WriteCLIP(filepath.Join(dir, "clip-embed"), modeltest.TinyCLIP(512), 1); err != nil {
		return err
	}
	if err := modeltest.WriteCLIP(filepath.Join(dir, "clip-aesthetic"), modeltest.TinyCLIP(768), 2); err != nil {
		return err
	}
	return modeltest.WriteAestheticMLP(filepath.Join(dir, "aesthetic.safetensors"), 3)
}
