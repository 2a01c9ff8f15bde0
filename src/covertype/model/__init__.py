"""The model contract, in one place: what goes into a covertype model, how it is built and exported.

- :mod:`covertype.model.features`: the engineered terrain features every candidate starts with.
- :mod:`covertype.model.pipelines`: the encodings and the candidate pipelines (scikit-learn).
- :mod:`covertype.model.onnx_export`: one ONNX graph per fitted pipeline, and the check that it is faithful.
- :mod:`covertype.model.graph_inputs`: how records are fed to that graph (numpy only).
- :mod:`covertype.model.runtime`: the graph run by ONNX Runtime (what the inference API serves).

Training builds and registers these (the registry's tags for the graph: :mod:`covertype.registry.tags`);
inference, tests and benchmarks load what training registered. Only ``graph_inputs`` and ``runtime``
import without scikit-learn (the inference extra).
"""
