//! What a reply means for the request it answers: a tool call's `isError`
//! is a tool error, a JSON-RPC error keeps its code and message.

use super::CallError;
use crate::protocol::escape;
use crate::protocol::jsonrpc::{self as wire, PreparedRequest, ReplyError, ResultProbe};
use tokio::time::Instant;

/// A reply's outcome for the request it answers: `isError` on a tool call
/// is a tool error.
pub fn judge(
    req: &PreparedRequest,
    at: Instant,
    outcome: Result<ResultProbe, CallError>,
) -> Result<Instant, CallError> {
    match outcome {
        Ok(probe) if req.is_tool_call && probe.is_error == Some(true) => {
            Err(CallError::ToolError(probe.error_text.unwrap_or_default()))
        }
        Ok(_) => Ok(at),
        Err(e) => Err(e),
    }
}

/// A reply's failure as a call's: a JSON-RPC error keeps its code and its
/// message (escaped, bounded), a malformed reply is a protocol error.
pub fn rpc_error(e: ReplyError) -> CallError {
    match e {
        ReplyError::Rpc(e) => CallError::JsonRpc {
            code: e.code,
            message: escape::escape_bounded(&e.message, wire::MAX_MESSAGE_CHARS),
        },
        ReplyError::Malformed(what) => CallError::Protocol(what),
    }
}
