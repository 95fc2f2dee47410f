// Package tpe is goptuna v0.9.0's Tree-structured Parzen Estimator sampler
// (github.com/c-bata/goptuna, MIT License, Copyright (c) 2019-2021 Masashi
// Shibata), copied so that every draw comes from the sampler's seeded
// source: upstream draws some values from the global math/rand, so a study
// would not be reproducible from its seed. Changes are marked "tune:".
//
// Imports of this module: nothing.
package tpe
