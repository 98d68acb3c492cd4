"""Homeward's sync engine and the reference for its protocol (version 1).

Framework-free: standard library and pydantic only, never flask, sqlalchemy or webapp.

    protocol.py   message schemas, limits, error codes, the OpenAPI document
    engine.py     apply_batch (push), pull, cursors, mutation fingerprints
    store.py      the Store / RecordHandler protocols the webapp implements over its database
    memory.py     an in-memory Store for tests

Push (POST /sync/push)
    A device queues every change offline as a Mutation in its outbox and sends up to 100 at a
    time. Each gets a MutationResult, in order, and the device does what `client_action` says:

    applied / replayed       200      delete_local    acknowledged: drop it from the outbox
    conflict                 409      keep_and_show   show both copies (server_payload is the
                                                      server's); the server keeps the losing
                                                      copy too, under conflict_id
    rejected, 4xx            403/404/ keep_and_show   "needs attention": kept and shown, never
                             409/422                  dropped, and never blocks the rest
    rejected, 5xx            500      retry           this mutation only: send it again later
    no reply / whole 5xx              retry           send the same batch again

    The whole batch is one database transaction, tried first with no savepoint per mutation
    (in one savepoint, or, where the caller can roll back and call again, in the transaction
    itself); if a mutation must be undone, the batch runs again with a savepoint per mutation
    (engine.apply_batch, RunOneByOne).
    A mutation the server cannot accept is answered alone and the rest go on: one that does not
    match the schema (a lone surrogate or NUL in its text, nesting over 16 levels, a version over
    2^31-1) is rejected 422 invalid_payload naming the field; one that hits a fault of the server
    (a bug, a value the database refused) is undone and answered 500 server_error with "retry",
    and is not remembered, so its resend is applied once the fault is gone. Only a fault of the
    whole transaction (a lost database connection) fails the batch: nothing is kept and the
    device (which deleted nothing) resends it unchanged. A batch the server cannot read at all
    (a whole-request 4xx below) is resent by the field client one mutation at a time, so the
    unreadable one is shown as needing attention and never blocks the queue behind it.

Idempotency
    The device generates `mutation_id` once per change and keeps it across retries. The server
    remembers every answer under that id with a fingerprint (sha256 of the canonical JSON of
    record_type, record_id, op, base_version and payload; not client_time). Sent again with the
    same content, the same answer comes back (an "applied" one as "replayed") and nothing is
    applied or logged twice. Sent again with different content, or by another user: rejected
    409 mutation_id_reused, and the first answer stays on record.

Versions and conflicts
    Every record has a server version, 1 when created, one higher after each change. A mutation
    says which version it was made on (`base_version`; null means "I am creating this id").

    upsert, record absent, base null         create (if allowed) -> version 1
    upsert or delete, base matches           apply if the user may write (else 403
                                             forbidden_operation) -> version + 1; the write
                                             is a compare-and-set on the version, so of two
                                             devices writing the same base at once one is
                                             applied and the other gets the conflict
    base does not match, or base null for
    an existing record, or record deleted    conflict: nothing changes, the losing copy is
                                             saved, the answer carries the server's copy
    record absent or not visible             404 not_found (one code: existence never leaks)
    delete of an already deleted record      applied (nothing new is logged)

    Before any of that: an unknown record_type, a payload over 256 KiB of canonical JSON, or a
    payload the record type refuses is rejected 422 (the error names the field). Mutations run
    in order, so a second mutation of the same record in a batch sees the first's effect.

Pull (GET /sync/pull?cursor=...&limit=...)
    Answers the current state of each record the user may see that changed since the cursor,
    oldest change first, and a tombstone (deleted: true, payload: null) for one that was deleted
    or is no longer visible to them. Without a cursor it is a full pull and says `reset: true`:
    the device drops every server-derived record (never its outbox) and applies the pages.
    While `has_more` is true, pull again at once with the new cursor.

Cursors
    Opaque and URL-safe: "v1" and a change log sequence number, signed with HMAC-SHA256 (16
    bytes). A cursor covers every log entry scanned, including ones the user may not see, so it
    only ever moves forward. A cursor that is malformed, altered, of another format, signed by
    another key or ahead of the server's log is refused (400 bad_cursor): the device pulls
    again without one; its unsent work is unaffected.

Revoked devices
    A revoked device may push only the changes it made before the revocation (by `client_time`,
    the device's clock at its last edit); a later or undated change is rejected alone, 410
    device_revoked, "keep_and_show". Once the device has reported its wipe, and for pulls and
    everything else at once, the answer is 410 {"error": "device_revoked", "wipe": true}. The
    rule lives in webapp/devices/revocation.py.

Whole-request errors (ProblemResponse)
    400 protocol_version, 400 invalid JSON, 413 batch_too_large (over 100 mutations or 4 MiB),
    422 invalid_payload (the batch's own fields are invalid, a mutation has no valid
    mutation_id/record_type/record_id, or an id repeats; nothing applied), 400 bad_cursor,
    500 server_error (nothing applied; retry), 503 server_busy with Retry-After (the server had
    no time for it within the phone's timeout; nothing applied; resend then).
"""
