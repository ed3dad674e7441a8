//! The smallest Pingora proxy that does what the benchmark's nginx does: tenant label from the
//! Host into `X-Tenant-Slug`, one keep-alive upstream. No cache, limits, logging or security
//! headers. `bench/profile-edge.sh` measures it beside basecommerce-proxy and nginx, so the
//! figures separate what Pingora itself costs per request from what the edge adds on top.
//!
//!   cargo run --release --example naive_edge -- <listen> <upstream>

use async_trait::async_trait;
use pingora::prelude::*;

struct NaiveEdge {
    upstream: String,
}

#[async_trait]
impl ProxyHttp for NaiveEdge {
    type CTX = ();

    fn new_ctx(&self) {}

    async fn upstream_peer(&self, _session: &mut Session, _ctx: &mut ()) -> Result<Box<HttpPeer>> {
        Ok(Box::new(HttpPeer::new(self.upstream.as_str(), false, String::new())))
    }

    async fn upstream_request_filter(&self, session: &mut Session, upstream: &mut RequestHeader, _ctx: &mut ()) -> Result<()> {
        let host = session.req_header().headers.get(http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
        let label = host.split('.').next().unwrap_or("").to_owned();
        let client = session.client_addr().and_then(|a| a.as_inet()).map(|a| a.ip().to_string()).unwrap_or_default();
        upstream.insert_header("x-tenant-slug", label)?;
        upstream.insert_header("x-forwarded-for", client)
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(upstream)) = (args.next(), args.next()) else {
        eprintln!("usage: naive_edge <listen> <upstream>");
        std::process::exit(2);
    };
    let threads = std::env::var("THREADS").ok().and_then(|t| t.parse().ok()).unwrap_or(1);
    let conf = pingora::server::configuration::ServerConf { threads, ..Default::default() };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let mut service = http_proxy_service(&server.configuration, NaiveEdge { upstream });
    service.add_tcp(&listen);
    server.add_service(service);
    server.run_forever()
}
