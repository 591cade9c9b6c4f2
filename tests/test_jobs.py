"""The durable job queue's disk side: jobs survive their process, interrupted ones resume."""

from ingest.job_store import Job, JobStore


def test_jobs_survive_the_process_and_interrupted_ones_are_queued_again(tmp_path):
    store = JobStore(tmp_path)
    first = store.insert(Job("upload", str(tmp_path / "a.mp4"), "a.mp4", progress={"probe": 0.0}))
    second = store.insert(Job("url", "http://127.0.0.1/b.mp4", "b"))
    claimed = store.claim()
    assert claimed.id == first.id and claimed.state == "running" and claimed.attempts == 1
    claimed.progress["probe"] = 0.5
    store.update(claimed, "progress")
    store.close()  # as if the process died here: nothing else is written

    reopened = JobStore(tmp_path)
    assert reopened.requeue_interrupted() == 1
    jobs = {job.id: job for job in reopened.recent()}
    assert jobs[first.id].state == "queued" and jobs[first.id].progress == {"probe": 0.5}
    assert jobs[second.id].state == "queued"
    again = reopened.claim()
    assert again.id == first.id and again.attempts == 2  # resumed: the worker knows it ran before
    assert reopened.active_files() == {str(tmp_path / "a.mp4"), "http://127.0.0.1/b.mp4"}
    reopened.close()


def test_orphan_uploads_go_and_queued_ones_stay(settings):
    from ingest.jobs import JobQueue
    from ingest.pipeline import Ingestor

    uploads = settings.data_dir / "uploads"
    uploads.mkdir(parents=True)
    (uploads / "orphan.mp4").write_bytes(b"saved, never queued")
    kept = uploads / "kept.mp4"
    kept.write_bytes(b"queued")
    store = JobStore(settings.data_dir)
    job = store.insert(Job("upload", str(kept), "kept.mp4"))
    store.claim()
    store.close()
    ingestor = Ingestor(settings)
    queue = JobQueue(ingestor, workers=1)
    try:
        assert not (uploads / "orphan.mp4").exists()
        finished = queue.wait(job.id, timeout_s=120)  # resumed at once, and refused: not a video
        assert finished.state == "failed" and "\n" not in finished.message and finished.attempts == 2
        assert not kept.exists()  # the job ended: its upload is spent
    finally:
        queue.close()
        ingestor.store.close()
