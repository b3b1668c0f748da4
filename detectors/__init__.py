"""Pixels to ``citywatch.detections``: capture, motion gating, YOLO, tracking, zones, evidence.

Only ``detectors.model``, ``detectors.adapter`` and ``detectors.tracking`` import
ultralytics; everything downstream sees ``detectors.types.Boxes`` and the
contract records of ``streams.contract.records``.
"""
