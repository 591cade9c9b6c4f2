"""The ingest pipeline, declared: the stages every file goes through, in order.

A stage is a module with `NAME` (what progress reports call it) and `run(work)`, which reads
what earlier stages left on the Work (ingest/work.py) and adds its own. A new stage is one module
here and one entry in STAGES. Stages only compute (and may write rows of their own that are
invisible until the commit, as `read` and `describe` do); the pipeline writes the rest and commits.
"""

from ingest.stages import describe, embed, frames, read, speakers, summary, tags, transcript

STAGES = (frames, read, describe, transcript, speakers, embed, tags)
# After the registry row: steps that need the whole indexed video, with `run_after(settings,
# store, video) -> warnings`. They can only warn; the video is indexed and stays.
AFTER_COMMIT = (summary,)

# What progress is reported for, in order: the probe before the stages, the writes after them.
PROGRESS_STAGES = ("probe", *(stage.NAME for stage in STAGES), "index")
