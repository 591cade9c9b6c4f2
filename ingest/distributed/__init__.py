"""Ingest over Ray (issue 23): the stages of each file run on a Ray worker, the rows come back,
and the driver writes them (only it may open Milvus Lite). Ray is optional: `pip install
vidrag[ray]` (requirements-ray.txt)."""

from ingest.distributed.workers import RayWorkers, ray_installed

__all__ = ["RayWorkers", "ray_installed"]
