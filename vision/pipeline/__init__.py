"""The lane pipeline: frame sources, tracking and passages at camera rate.

- :mod:`vision.pipeline.config`: :class:`LaneConfig` and its parts (region of interest,
  motion gate, tracking, read policy), frozen dataclasses.
- :mod:`vision.pipeline.protocols`: the capabilities (detectors, reader, body classifier,
  frame source, event sink) as protocols, and :class:`LaneModels`.
- :mod:`vision.pipeline.sources`: video file, stream URL (reconnect with back-off), image
  folder, frames pushed over HTTP.
- :mod:`vision.pipeline.lane`: :class:`LanePipeline`, frames in, passages out.
- :mod:`vision.pipeline.worker`: :class:`LaneWorker` (bounded drop-oldest queue, two
  threads) and :class:`LaneHealth`.
- :mod:`vision.pipeline.sinks`: JSONL sink and the passage JSON form.
- :mod:`vision.pipeline.factory`: the real models from ``models/``.
- :mod:`vision.pipeline.truth`: synthetic clips' ground truth, a detector answering from it,
  passage scoring.
- :mod:`vision.pipeline.annotate`: the annotated preview.
"""
