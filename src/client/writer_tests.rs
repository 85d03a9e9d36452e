//! The outbox against an in-memory stream: lines in order whoever writes
//! them, a direct write only when the stream is idle, the rest of a write
//! that would block finished by the writer task.

use super::*;
use tokio::io::AsyncReadExt;

fn outbox(capacity: usize) -> (std::sync::Arc<Outbox>, tokio::io::DuplexStream) {
    let (ours, theirs) = tokio::io::duplex(capacity);
    (std::sync::Arc::new(Outbox::new(Box::new(ours))), theirs)
}

async fn read_exactly(r: &mut tokio::io::DuplexStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    tokio::time::timeout(std::time::Duration::from_secs(10), r.read_exact(&mut buf))
        .await
        .expect("bytes within 10 s")
        .expect("read");
    buf
}

#[tokio::test]
async fn an_idle_stream_is_written_by_the_sender_at_once() {
    let (out, mut theirs) = outbox(1024);
    // No writer task runs: only a direct write can reach the stream.
    let sent = out.send(b"one\n".to_vec(), true).expect("open");
    assert!(matches!(sent, Sent::Written(_)), "{sent:?}");
    assert_eq!(read_exactly(&mut theirs, 4).await, b"one\n");
}

#[tokio::test]
async fn queued_bytes_go_first_and_lines_never_interleave() {
    let (out, mut theirs) = outbox(8);
    let writer = tokio::spawn({
        let out = out.clone();
        async move { out.run().await }
    });
    // 12 bytes into an 8-byte pipe: the rest waits for the writer task.
    assert_eq!(out.send(b"first-line\n".to_vec(), true), Ok(Sent::Queued));
    // The stream is busy: a direct send queues behind it instead.
    assert_eq!(out.send(b"second\n".to_vec(), true), Ok(Sent::Queued));
    assert_eq!(out.send(b"third\n".to_vec(), false), Ok(Sent::Queued));
    let all = read_exactly(&mut theirs, 11 + 7 + 6).await;
    assert_eq!(all, b"first-line\nsecond\nthird\n");
    // Drained: the next direct send is written by its sender again.
    let idle = async {
        loop {
            if !out.lock().busy {
                break;
            }
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), idle)
        .await
        .expect("the writer drains");
    assert!(matches!(
        out.send(b"4\n".to_vec(), true),
        Ok(Sent::Written(_))
    ));
    assert_eq!(read_exactly(&mut theirs, 2).await, b"4\n");
    writer.abort();
}

#[tokio::test]
async fn a_write_to_a_closed_stream_fails_with_its_reason_then_stays_closed() {
    let (out, theirs) = outbox(64);
    drop(theirs);
    match out.send(b"x\n".to_vec(), true) {
        Err(SendError::Failed(why)) => assert!(why.starts_with("write failed"), "{why}"),
        other => panic!("expected a failed write, got {other:?}"),
    }
    assert_eq!(out.send(b"y\n".to_vec(), false), Err(SendError::Closed));
}

#[tokio::test]
async fn traced_returns_when_its_own_task_wrote_the_request() {
    let at = Instant::now();
    let ((), written) = traced(async { note_written(at) }).await;
    assert_eq!(written, Some(at));
    let ((), none) = traced(async {}).await;
    assert_eq!(none, None);
    note_written(at); // outside a trace: nothing, no panic
}
