package pcapio

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Dataset is a set of flows labelled by class.
type Dataset struct {
	Classes []string            // class names, sorted
	Flows   map[string][]*Flow  // flows of each class: files in name order, each file's flows in Assemble order
	Files   map[string][]string // capture files of each class, in the order read
	Stats   map[string]Stats    // assembly counts of each class, summed over its files
}

// IsCaptureFile reports whether name has a capture file extension t2t
// reads: .pcap, .pcapng or .cap (any case).
func IsCaptureFile(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".pcap", ".pcapng", ".cap":
		return true
	}
	return false
}

// LoadDataset reads a labelled data set from dir: each capture file
// <class>.pcap (or .pcapng, .cap) at its top level, and each capture file in
// a subfolder <class>/, gives flows of that class. Other files are
// ignored. An error names the file at fault; a folder with no captures,
// or a class subfolder with none, is an error.
func LoadDataset(dir string, opts FlowOptions) (*Dataset, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("pcapio: LoadDataset: %w", err)
	}
	files := make(map[string][]string)
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		path := filepath.Join(dir, name)
		if e.IsDir() {
			sub, err := os.ReadDir(path)
			if err != nil {
				return nil, fmt.Errorf("pcapio: LoadDataset: %w", err)
			}
			n := 0
			for _, s := range sub {
				if !s.IsDir() && !strings.HasPrefix(s.Name(), ".") && IsCaptureFile(s.Name()) {
					files[name] = append(files[name], filepath.Join(path, s.Name()))
					n++
				}
			}
			if n == 0 {
				return nil, fmt.Errorf("pcapio: LoadDataset: class folder %s holds no .pcap, .pcapng or .cap file", path)
			}
			continue
		}
		if IsCaptureFile(name) {
			class := strings.TrimSuffix(name, filepath.Ext(name))
			files[class] = append(files[class], path)
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("pcapio: LoadDataset: %s holds no .pcap, .pcapng or .cap file and no class folder", dir)
	}
	ds := &Dataset{
		Flows: make(map[string][]*Flow),
		Files: files,
		Stats: make(map[string]Stats),
	}
	for class, paths := range files {
		ds.Classes = append(ds.Classes, class)
		sort.Strings(paths)
	}
	sort.Strings(ds.Classes)
	for _, class := range ds.Classes {
		var st Stats
		for _, path := range files[class] {
			fl, s, err := AssembleFile(path, opts)
			if err != nil {
				if _, ok := err.(*FormatError); ok {
					return nil, err // names the file and offset already
				}
				return nil, fmt.Errorf("pcapio: LoadDataset: %w", err)
			}
			ds.Flows[class] = append(ds.Flows[class], fl...)
			st.add(s)
		}
		ds.Stats[class] = st
	}
	return ds, nil
}
