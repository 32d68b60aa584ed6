use http_body_util::{BodyExt, StreamBody};

use super::*;

fn message(len: usize) -> Vec<u8> {
    let mut m = vec![0u8];
    m.extend_from_slice(&(len as u32).to_be_bytes());
    m.extend(std::iter::repeat_n(7u8, len));
    m
}

#[test]
fn framing_counts_only_the_unfinished_message() {
    let mut f = Framing::default();
    // Two whole messages and the first 3 bytes of a prefix.
    let mut data = message(10);
    data.extend(message(0));
    data.extend(&message(100)[..3]);
    assert_eq!(f.advance(&data), (0, 3));
    // The rest of that prefix and 50 of its 100 bytes.
    assert_eq!(f.advance(&message(100)[3..55]), (3, 55));
    // Its last 50 bytes and a new prefix: only the new prefix is unfinished.
    let mut tail = message(100)[55..].to_vec();
    tail.extend(&message(4_000_000)[..5]);
    assert_eq!(f.advance(&tail), (55, 5));
}

fn body(chunks: Vec<Vec<u8>>) -> Body {
    let frames = chunks
        .into_iter()
        .map(|c| Ok::<_, Status>(Frame::data(Bytes::from(c))));
    Body::new(StreamBody::new(futures::stream::iter(frames)))
}

fn budgeted(inner: Body, budget: &Arc<BufferBudget>, conn: &Arc<ConnectionLoad>) -> BudgetedBody {
    BudgetedBody {
        inner,
        budget: budget.clone(),
        conn: conn.clone(),
        framing: Framing::default(),
        held: 0,
    }
}

#[tokio::test]
async fn a_connection_past_its_share_is_refused_and_freed_on_drop() {
    let budget = BufferBudget::new(1000, 300);
    let conn = Arc::new(ConnectionLoad::default());
    let big = message(1000);
    let mut first = budgeted(body(vec![big[..200].to_vec()]), &budget, &conn);
    first.frame().await.unwrap().unwrap();
    assert_eq!((conn.buffered_bytes(), budget.used()), (200, 200));
    // A second stream of the same connection: 200 + 150 > 300.
    let mut second = budgeted(body(vec![big[..150].to_vec()]), &budget, &conn);
    let refused = second.frame().await.unwrap().unwrap_err();
    assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
    assert!(
        refused
            .message()
            .contains("network.max_buffered_bytes_per_connection (300)"),
        "{refused:?}"
    );
    assert_eq!(conn.buffered_bytes(), 200, "the refused bytes are not held");
    drop(first);
    assert_eq!((conn.buffered_bytes(), budget.used()), (0, 0));
}

#[tokio::test]
async fn the_node_wide_budget_refuses_across_connections() {
    let budget = BufferBudget::new(500, 300);
    let (a, b) = (
        Arc::new(ConnectionLoad::default()),
        Arc::new(ConnectionLoad::default()),
    );
    let big = message(1000);
    let mut on_a = budgeted(body(vec![big[..300].to_vec()]), &budget, &a);
    on_a.frame().await.unwrap().unwrap();
    let mut on_b = budgeted(body(vec![big[..250].to_vec()]), &budget, &b);
    let refused = on_b.frame().await.unwrap().unwrap_err();
    assert!(
        refused
            .message()
            .contains("network.max_buffered_bytes (500)"),
        "{refused:?}"
    );
    assert_eq!((a.buffered_bytes(), b.buffered_bytes()), (300, 0));
    assert_eq!(budget.used(), 300);
}

#[tokio::test]
async fn complete_messages_release_their_bytes() {
    let budget = BufferBudget::new(500, 300);
    let conn = Arc::new(ConnectionLoad::default());
    // Ten messages of 250 bytes in 100-byte chunks: never more than one
    // unfinished message held, so a stream of them passes.
    let all: Vec<u8> = (0..10).flat_map(|_| message(250)).collect();
    let chunks = all.chunks(100).map(<[u8]>::to_vec).collect();
    let mut stream = budgeted(body(chunks), &budget, &conn);
    let mut max = 0;
    while let Some(frame) = stream.frame().await {
        frame.unwrap();
        max = max.max(conn.buffered_bytes());
    }
    assert!(max <= 255, "{max}");
    assert_eq!((conn.buffered_bytes(), budget.used()), (0, 0));
}
