// This file is goptuna v0.9.0's TPE sampler (github.com/c-bata/goptuna,
// MIT License, Copyright (c) 2019-2021 Masashi Shibata), copied so that every
// draw comes from the sampler's seeded source: upstream draws the mixture
// component and categorical values from the global math/rand, so a study is
// not reproducible from its seed. Changes are marked "tune:".

package tpe

var (
	ExportGetObservationPairs   = getObservationPairs
	ExportSplitObservationPairs = (*Sampler).splitObservationPairs
	ExportSampleCategorical     = (*Sampler).sampleCategorical
)
