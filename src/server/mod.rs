//! The builtin MCP server, on rmcp (the official Rust SDK). It is the default
//! target, driven in-process over an in-memory duplex, and `mcptop serve
//! --stdio` serves it to other clients. Its tools have known costs so users
//! can calibrate: `sleep` has a known latency, `cpu` a known CPU time spent in
//! `burn_cpu`, `payload` a known reply size (built once per size and cached,
//! `payload`), `events` a known number of notifications on the request's
//! stream (`events`, `event_store`).

pub mod access;
pub mod batch;
pub mod event_store;
pub mod events;
pub mod http_batch;
pub mod http_conn;
pub mod https;
pub mod net;
pub mod payload;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResult, ContentBlock, GetPromptRequestParams, GetPromptResponse, GetPromptResult,
    Implementation, ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult,
    PaginatedRequestParams, Prompt, PromptArgument, PromptMessage, ReadResourceRequestParams,
    ReadResourceResponse, ReadResourceResult, Resource, ResourceContents, ResourceTemplate, Role,
    ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{schemars, tool, tool_handler, tool_router, ErrorData, RoleServer, ServerHandler};
use serde::Deserialize;
use std::time::Duration;

pub use payload::MAX_PAYLOAD_BYTES;
/// Longest the `sleep` and `cpu` tools will wait.
const MAX_WAIT_MS: u64 = 60_000;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct EchoArgs {
    /// Text to return unchanged.
    pub message: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct AddArgs {
    pub a: f64,
    pub b: f64,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SleepArgs {
    /// Milliseconds to wait before replying.
    pub ms: u64,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SleepUsArgs {
    /// Microseconds to wait before replying.
    pub us: u64,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CpuArgs {
    /// Microseconds of CPU to burn before replying.
    pub us: u64,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct PayloadArgs {
    /// Bytes of text in the reply.
    pub bytes: u64,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct JsonArgs {
    /// Any JSON value; it is returned as structured content.
    pub data: serde_json::Value,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct FailArgs {}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct EventsArgs {
    /// Numbered progress notifications to send before the result.
    pub count: u64,
    /// Microseconds between two notifications.
    #[serde(default)]
    pub interval_us: u64,
}

#[derive(Debug, Clone)]
pub struct BuiltinServer {
    /// One for every session: built once (its tools' descriptions and
    /// schemas), not per session opened.
    tool_router: std::sync::Arc<ToolRouter<Self>>,
    streams: events::HttpStreams,
}

/// The tools of every `BuiltinServer`.
static TOOLS: std::sync::OnceLock<std::sync::Arc<ToolRouter<BuiltinServer>>> =
    std::sync::OnceLock::new();

impl Default for BuiltinServer {
    fn default() -> Self {
        Self::new()
    }
}

#[tool_router]
impl BuiltinServer {
    pub fn new() -> Self {
        Self {
            tool_router: TOOLS
                .get_or_init(|| std::sync::Arc::new(Self::tool_router()))
                .clone(),
            streams: events::HttpStreams::Resumable,
        }
    }

    /// Served over HTTP without resumable event streams (`--json-response`,
    /// `--stateless`): `events` refuses, naming `flag`.
    pub fn without_resumable_streams(flag: &'static str) -> Self {
        Self {
            streams: events::HttpStreams::Refused(flag),
            ..Self::new()
        }
    }

    #[tool(description = "Returns the message unchanged")]
    fn echo(&self, Parameters(EchoArgs { message }): Parameters<EchoArgs>) -> String {
        format!("Echo: {message}")
    }

    #[tool(description = "Adds two numbers")]
    fn add(&self, Parameters(AddArgs { a, b }): Parameters<AddArgs>) -> String {
        (a + b).to_string()
    }

    #[tool(description = "Sleeps `ms` milliseconds, then replies: a known latency")]
    async fn sleep(&self, Parameters(SleepArgs { ms }): Parameters<SleepArgs>) -> CallToolResult {
        if ms > MAX_WAIT_MS {
            return tool_error(format!("ms must be at most {MAX_WAIT_MS}"));
        }
        // The pacer: tokio's timer alone adds up to a millisecond.
        let slept = crate::pacer::sleep_exact(Duration::from_millis(ms)).await;
        slept_reply(format!("slept {ms} ms"), slept)
    }

    #[tool(description = "Sleeps `us` microseconds, then replies: a known latency, finer")]
    async fn sleep_us(
        &self,
        Parameters(SleepUsArgs { us }): Parameters<SleepUsArgs>,
    ) -> CallToolResult {
        if us > MAX_WAIT_MS * 1000 {
            return tool_error(format!("us must be at most {}", MAX_WAIT_MS * 1000));
        }
        let slept = crate::pacer::sleep_exact(Duration::from_micros(us)).await;
        slept_reply(format!("slept {us} us"), slept)
    }

    #[tool(description = "Burns `us` microseconds of CPU in burn_cpu, then replies")]
    fn cpu(&self, Parameters(CpuArgs { us }): Parameters<CpuArgs>) -> CallToolResult {
        if us > MAX_WAIT_MS * 1000 {
            return tool_error(format!("us must be at most {}", MAX_WAIT_MS * 1000));
        }
        let spins = burn_cpu(Duration::from_micros(us));
        CallToolResult::success(vec![ContentBlock::text(format!(
            "burned {us} us ({spins} rounds)"
        ))])
    }

    #[tool(description = "Replies with `bytes` bytes of text")]
    fn payload(
        &self,
        Parameters(PayloadArgs { bytes }): Parameters<PayloadArgs>,
    ) -> CallToolResult {
        match payload::text(bytes, false) {
            Ok(text) => CallToolResult::success(vec![ContentBlock::text(text)]),
            Err(e) => tool_error(e),
        }
    }

    #[tool(description = "Returns `data` as structured content: JSON encode/decode cost")]
    fn json(&self, Parameters(JsonArgs { data }): Parameters<JsonArgs>) -> CallToolResult {
        CallToolResult::structured(serde_json::json!({ "data": data }))
    }

    #[tool(
        description = "Sends `count` numbered notifications/progress for _meta.progressToken (notifications/message without one), `interval_us` apart, then replies"
    )]
    async fn events(
        &self,
        Parameters(EventsArgs { count, interval_us }): Parameters<EventsArgs>,
        context: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let token = match events::check(count, interval_us, self.streams, &context) {
            Ok(token) => token,
            Err(e) => return tool_error(e),
        };
        match events::stream(count, interval_us, token, &context).await {
            Ok(sent) => {
                CallToolResult::success(vec![ContentBlock::text(format!("sent {sent} events"))])
            }
            Err(e) => tool_error(e),
        }
    }

    #[tool(description = "Always fails with a tool error (isError: true)")]
    fn fail(&self, Parameters(_): Parameters<FailArgs>) -> CallToolResult {
        tool_error("this tool always fails".to_string())
    }
}

/// A sleep tool's reply: what was asked, and how long the server actually
/// waited (`slept_us`, measured around the wait, in the text and as
/// structured content), so a client can tell the server's overshoot from
/// its own hand-off.
fn slept_reply(asked: String, slept: crate::pacer::Slept) -> CallToolResult {
    let us = slept.waited.as_micros() as u64;
    let exact = slept.kind == crate::pacer::WaitKind::Exact;
    let mut reply =
        CallToolResult::success(vec![ContentBlock::text(format!("{asked} (slept_us {us})"))]);
    reply.structured_content = Some(serde_json::json!({ "slept_us": us, "exact": exact }));
    reply
}

fn tool_error(message: String) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message)])
}

/// Spins until `budget` of wall time has passed on this thread. Named and
/// kept out of line so flame graphs attribute the `cpu` tool's time to it.
#[inline(never)]
pub fn burn_cpu(budget: Duration) -> u64 {
    let start = std::time::Instant::now();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut rounds = 0u64;
    while start.elapsed() < budget {
        for _ in 0..64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        rounds += 1;
    }
    std::hint::black_box(x);
    rounds
}

const README_TEXT: &str =
    "mcptop builtin server: tools echo, add, sleep, sleep_us, cpu, payload, json, events, fail; \
resources mcptop://static/readme, mcptop://static/config, mcptop://payload/{bytes} (cached; \
?fresh to build it per read); prompt greet.";
const CONFIG_TEXT: &str = r#"{"name":"mcptop-builtin","tools":9,"resources":3,"prompts":1}"#;

#[tool_handler(router = self.tool_router)]
impl ServerHandler for BuiltinServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_prompts()
                .build(),
        )
        .with_server_info(Implementation::new(
            "mcptop-builtin",
            env!("CARGO_PKG_VERSION"),
        ))
        .with_instructions("mcptop's builtin calibration server")
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(ListResourcesResult::with_all_items(vec![
            Resource::new("mcptop://static/readme", "readme"),
            Resource::new("mcptop://static/config", "config"),
        ]))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(ListResourceTemplatesResult::with_all_items(vec![
            ResourceTemplate::new("mcptop://payload/{bytes}", "payload"),
            // The same text built on every read (not from the cache).
            ResourceTemplate::new("mcptop://payload/{bytes}?fresh", "payload-fresh"),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let uri = request.uri;
        let text = match uri.as_str() {
            "mcptop://static/readme" => README_TEXT.to_string(),
            "mcptop://static/config" => CONFIG_TEXT.to_string(),
            other => match other
                .strip_prefix("mcptop://payload/")
                .and_then(payload::parse_uri_tail)
            {
                Some((bytes, fresh)) => {
                    payload::text(bytes, fresh).map_err(|e| ErrorData::invalid_params(e, None))?
                }
                _ => {
                    return Err(ErrorData::resource_not_found(
                        format!("no resource {other}"),
                        None,
                    ))
                }
            },
        };
        Ok(ReadResourceResult::new(vec![ResourceContents::text(text, uri)]).into())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Ok(ListPromptsResult::with_all_items(vec![Prompt::new(
            "greet",
            Some("Greets someone by name"),
            Some(vec![PromptArgument::new("name")]),
        )]))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        if request.name != "greet" {
            return Err(ErrorData::invalid_params(
                format!("no prompt {}", request.name),
                None,
            ));
        }
        let name = request
            .arguments
            .as_ref()
            .and_then(|a| a.get("name"))
            .and_then(|v| v.as_str())
            .unwrap_or("world")
            .to_string();
        Ok(GetPromptResult::new(vec![PromptMessage::new_text(
            Role::User,
            format!("Please greet {name} warmly."),
        )])
        .into())
    }
}

/// Serves the builtin server on this process's stdin and stdout until the
/// client closes them.
pub async fn serve_stdio() -> anyhow::Result<()> {
    let transport =
        batch::BatchingTransport::new(tokio::io::stdin(), tokio::io::stdout()).announcing();
    serve_lines(transport)
        .await
        .map_err(|e| anyhow::anyhow!("MCP handshake on stdio failed: {e}"))
}

/// Serves one client on a line transport until it leaves; JSON-RPC batches
/// are split and gathered around rmcp.
pub async fn serve_lines<R, W>(
    transport: batch::BatchingTransport<R, W>,
) -> Result<(), rmcp::service::ServerInitializeError>
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
    W: tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use rmcp::ServiceExt;
    // The handshake's future is large (7.4 KiB in rmcp 3.11): boxed, it is
    // freed once the session runs instead of sizing every session's task.
    let running = Box::pin(BuiltinServer::new().serve(transport)).await?;
    let _ = running.waiting().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burn_cpu_spends_at_least_its_budget() {
        let start = std::time::Instant::now();
        let rounds = burn_cpu(Duration::from_millis(2));
        assert!(start.elapsed() >= Duration::from_millis(2));
        assert!(rounds > 0);
    }

    #[test]
    fn every_session_shares_one_tool_router() {
        // Built per session, the router cost each session its tools' table
        // and a name check per tool (allocations and CPU while connecting).
        let (a, b) = (
            BuiltinServer::new(),
            BuiltinServer::without_resumable_streams("x"),
        );
        assert!(std::sync::Arc::ptr_eq(&a.tool_router, &b.tool_router));
        assert_eq!(
            a.tool_router.list_all().len(),
            b.tool_router.list_all().len()
        );
        assert!(a.tool_router.has_route("echo"));
    }

    #[tokio::test]
    async fn a_sessions_task_does_not_hold_the_handshakes_state() {
        // The task serving a session is as large as this future, for as long
        // as the session is open: rmcp's handshake is boxed and freed after.
        let (_client, server) = tokio::io::duplex(64);
        let (reader, writer) = tokio::io::split(server);
        let serving = serve_lines(batch::BatchingTransport::new(reader, writer));
        let bytes = std::mem::size_of_val(&serving);
        assert!(bytes < 2_048, "serve_lines' future is {bytes} bytes");
    }
}
