// Package dataset turns flow-labelled public captures into the labelled
// data sets t2t trains on.
//
// # Flow labels
//
// A flow-label file is tab-separated, one labelled flow per line after a
// header, as written for nDPI's test captures (ndpiReader's flow lists):
//
//	pcap	flow_no	l4	src	dst	ndpi_proto	app	category	pkts_c2s	bytes_c2s	pkts_s2c	bytes_s2c
//	1kxun.pcap	1	TCP	192.168.2.126:45380	161.117.13.29:80	HTTP.1kxun	1kxun	Streaming	7	4845	73	178280
//
// ReadFlowLabels and ReadFlowLabelsFile read one; a malformed line gives a
// *LabelError naming the line and column. WriteFlowLabels writes one.
//
// # Layout
//
// Layout matches each labelled flow's 5-tuple, in either direction, to
// the flows pcapio assembles from its capture, and writes a training and a
// test set that pcapio.LoadDataset reads, one folder per class:
//
//	<out>/train/<class>/<capture>.pcap
//	<out>/test/<class>/<capture>.pcap
//
// Each file holds the packets of that capture's flows of that class. The
// split is by capture: a capture's flows of a class all go to train or
// all to test (flows of one capture share hosts, times and often a
// session, so splitting them would leak), about 3:1 per class, drawn from
// a seed. The class is one label column (app by default), made a safe
// folder name (ClassNames):
//
//	sum, err := dataset.Layout(dataset.LayoutOptions{
//		Labels:   "ntop+nDPI/FLOW_LABELS.tsv",
//		Captures: "ntop+nDPI/tests/cfgs/default/pcap",
//		Out:      "ndpi12",
//		Classes:  12,
//		Drop:     []string{"Unknown"},
//	})
//	sum.WriteTable(os.Stdout)
//
// Captures that fail to read are listed in the Summary and skipped; the
// output is written whole or not at all.
package dataset
