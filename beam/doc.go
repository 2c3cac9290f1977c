// Package t2tbeam runs t2t's two big jobs as Apache Beam pipelines, so
// that they scale past one machine: encoding a large corpus of captures
// into nPrint rows or flow images (Encode), generating many labelled
// flows with a model (Generate), and comparing big data sets field by
// field (Evaluate). The same pipeline runs in process on
// Beam's Prism runner (the default: no setup) and on Flink, Spark or
// Dataflow through Beam's portable runner (--runner=universal
// --endpoint=...).
//
// It is a module of its own (t2t/beam, with replace t2t => ../), so that
// the t2t library keeps its small dependency set: nothing in the root
// module imports Beam.
//
// # Encode
//
// Every capture file (.pcap, .pcapng, .cap) that the inputs match is one
// element: a worker reads it, groups its packets into bidirectional flows
// with pcapio's rules (pcapio.Assemble), and encodes it as examples/nprint
// does, so that the rows are nPrint's for the same flags, byte for byte.
// Rows are grouped by flow (a flow's rows stay together, in file order)
// and the flows dealt over CSV shards by a hash of (file, flow). Or each
// flow becomes a PNG, as examples/pcap2png draws it. A flow that spans two
// input files is two flows: files are encoded independently. A file that
// cannot be read (corrupt, truncated, an unknown link type) gives no rows
// and is listed in the manifest with its name, the byte offset at fault
// and the error; the other files' output is complete.
//
// # Generate
//
// Requests (class, flows) are cut into work elements of flows (class,
// index); workers each load the model once (DoFn Setup: the embedded
// model or a model folder) and sample and repair their flows with
// pipeline.GenerateSeeded, each flow seeded from (seed, class, index), so
// that the output does not depend on how the work was split. Flows are
// grouped into pcap shards per class and a manifest (class, flows,
// packets, seed) is written beside them.
//
// # Evaluate
//
// The per-field part of the fidelity report over labelled data sets of
// any size: each file's flows are counted into field histograms
// (evaluate.FieldHistograms), histograms are combined per side and class
// (a CombineFn), and each class's fields get their JSD and TV.
package t2tbeam
