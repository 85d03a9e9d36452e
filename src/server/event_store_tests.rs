use super::*;
use futures_util::StreamExt;
use rmcp::model::{JsonRpcResponse, JsonRpcVersion2_0, NumberOrString, ServerResult};

fn note(n: u64) -> ServerSseMessage {
    let token = rmcp::model::ProgressToken(NumberOrString::Number(7));
    let param = rmcp::model::ProgressNotificationParam::new(token, n as f64);
    let message =
        ServerJsonRpcMessage::notification(rmcp::model::ServerNotification::ProgressNotification(
            rmcp::model::Notification::new(param),
        ));
    ServerSseMessage::from_message(message)
}

fn reply() -> ServerSseMessage {
    ServerSseMessage::from_message(ServerJsonRpcMessage::Response(JsonRpcResponse {
        jsonrpc: JsonRpcVersion2_0,
        id: NumberOrString::Number(1),
        result: ServerResult::empty(()),
    }))
}

fn progress_of(event: &ServerSseMessage) -> Option<f64> {
    let text = serde_json::to_value(event.message.as_deref()?).ok()?;
    text["params"]["progress"].as_f64()
}

#[tokio::test]
async fn a_replay_gives_the_events_after_the_id_then_follows_until_the_reply() {
    let store = MemoryEventStore::default();
    let ids: Vec<String> = (1..=5).map(|n| store.store("s", &note(n))).collect();
    assert_eq!(ids[0], "0-0");
    let mut replay = Box::pin(store.replay_after(&ids[2]).expect("replay"));
    assert_eq!(replay.next().await.and_then(|e| progress_of(&e)), Some(4.0));
    assert_eq!(replay.next().await.and_then(|e| progress_of(&e)), Some(5.0));
    // Caught up: the replay waits for what the tool sends next.
    let later = store.clone();
    let writer = tokio::spawn(async move {
        later.store("s", &note(6));
        later.store("s", &reply());
    });
    let sixth = replay.next().await.expect("followed live");
    assert_eq!(progress_of(&sixth), Some(6.0));
    assert_eq!(sixth.event_id.as_deref(), Some("0-5"));
    let last = replay.next().await.expect("the reply");
    assert!(is_reply(&last));
    assert!(
        replay.next().await.is_none(),
        "the stream ends at its reply"
    );
    writer.await.expect("writer");
}

#[tokio::test]
async fn streams_are_apart_and_bad_ids_are_named() {
    let store = MemoryEventStore::default();
    store.store("a", &note(1));
    let b = store.store("b", &note(1));
    store.store("a", &note(2));
    store.store("a", &reply());
    store.store("b", &reply());
    let replay: Vec<_> = store.replay_after(&b).expect("replay").collect().await;
    assert_eq!(replay.len(), 1, "only b's reply");
    assert!(is_reply(&replay[0]));
    for bad in ["", "x", "1", "1-x", "-1"] {
        assert_eq!(
            store.replay_after(bad).err(),
            Some(ReplayError::Malformed(bad.into()))
        );
    }
    assert_eq!(
        store.replay_after("99-0").err(),
        Some(ReplayError::Forgotten("99-0".into()))
    );
}

#[test]
fn memory_is_bounded_per_stream_and_in_all() {
    let store = MemoryEventStore::default();
    for n in 0..(MAX_STREAM_EVENTS as u64 + 10) {
        store.store("long", &note(n));
    }
    assert_eq!(store.len(), MAX_STREAM_EVENTS);
    assert_eq!(
        store.replay_after("0-2").err(),
        Some(ReplayError::TooOld("0-2".into()))
    );
    assert!(store.replay_after("0-9").is_ok(), "index 10 is still kept");
    let streams = MAX_STORED_EVENTS / 2 + 10;
    for s in 0..streams {
        let id = format!("short-{s}");
        store.store(&id, &note(1));
        store.store(&id, &reply());
    }
    assert!(store.len() <= MAX_STORED_EVENTS, "{}", store.len());
    {
        let logs = store.lock();
        assert_eq!(logs.ids.len(), logs.logs.len(), "forgotten ids are gone");
    }
    assert_eq!(
        store.replay_after("0-9").err(),
        Some(ReplayError::Forgotten("0-9".into())),
        "the oldest stream went first"
    );
}
