//! A minimal HTTP/1.1 reverse proxy, the load test's reference floor: what a proxy on tokio
//! and the `http` types cannot avoid doing per request. It parses the request head into a
//! header map, adds the three `X-Forwarded-*` fields Ferrogate's ReverseProxyHandler adds,
//! sends the head to the upstream over a pooled keep-alive connection, reads the response
//! head into a header map and its `Content-Length` body, and writes head and body to the
//! client with one `writev`. No routing, no timeouts, no limits, no request bodies, no
//! chunked responses, no error answers: a request it cannot handle closes its connection.
//!
//! usage: perf-floor LISTEN_ADDRESS UPSTREAM_ADDRESS

use std::cell::RefCell;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::rc::Rc;

use bytes::BytesMut;
use http::HeaderValue;
use perf_floor::{Head, content_length, forward_request, put_head, take_head};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[global_allocator]
static ALLOCATOR: ferrogate_alloc::MiMalloc = ferrogate_alloc::MiMalloc;

/// Idle upstream connections with what was read past their last response.
type Pool = Rc<RefCell<Vec<(TcpStream, BytesMut)>>>;

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(upstream)) = (args.next(), args.next()) else {
        eprintln!("usage: perf-floor LISTEN_ADDRESS UPSTREAM_ADDRESS");
        std::process::exit(2);
    };
    let upstream: SocketAddr = upstream.parse().map_err(io::Error::other)?;
    let upstream_host = HeaderValue::try_from(upstream.to_string()).map_err(io::Error::other)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let listener = TcpListener::bind(&listen).await?;
        let pool: Pool = Rc::default();
        loop {
            let (client, peer) = listener.accept().await?;
            client.set_nodelay(true)?;
            let connection = Connection {
                pool: pool.clone(),
                upstream,
                upstream_host: upstream_host.clone(),
                forwarded_for: HeaderValue::try_from(peer.ip().to_string())
                    .map_err(io::Error::other)?,
            };
            tokio::task::spawn_local(async move {
                let _ = connection.serve(client).await;
            });
        }
    })
}

struct Connection {
    pool: Pool,
    upstream: SocketAddr,
    upstream_host: HeaderValue,
    forwarded_for: HeaderValue,
}

async fn read_head(io: &mut TcpStream, buf: &mut BytesMut, request: bool) -> io::Result<Head> {
    loop {
        if let Some(head) = take_head(buf, request)? {
            return Ok(head);
        }
        buf.reserve(4096);
        if io.read_buf(buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
}

impl Connection {
    async fn serve(&self, mut client: TcpStream) -> io::Result<()> {
        let mut buf = BytesMut::new();
        let mut out = BytesMut::new();
        loop {
            let mut request = read_head(&mut client, &mut buf, true).await?;
            forward_request(
                &mut request.headers,
                &self.upstream_host,
                &self.forwarded_for,
            )?;

            let pooled = self.pool.borrow_mut().pop();
            let (mut upstream, mut upstream_buf) = match pooled {
                Some(idle) => idle,
                None => {
                    let connection = TcpStream::connect(self.upstream).await?;
                    connection.set_nodelay(true)?;
                    (connection, BytesMut::new())
                }
            };
            out.clear();
            put_head(&mut out, &request.first_line, &request.headers);
            upstream.write_all(&out).await?;

            let response = read_head(&mut upstream, &mut upstream_buf, false).await?;
            let length = content_length(&response.headers)?;
            while upstream_buf.len() < length {
                upstream_buf.reserve(length - upstream_buf.len());
                if upstream.read_buf(&mut upstream_buf).await? == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
            }
            let body = upstream_buf.split_to(length).freeze();
            self.pool.borrow_mut().push((upstream, upstream_buf));

            out.clear();
            put_head(&mut out, &response.first_line, &response.headers);
            let mut slices = [IoSlice::new(&out), IoSlice::new(&body)];
            let mut slices = &mut slices[..];
            while !slices.is_empty() {
                let written = client.write_vectored(slices).await?;
                if written == 0 {
                    return Err(io::ErrorKind::WriteZero.into());
                }
                IoSlice::advance_slices(&mut slices, written);
            }
        }
    }
}
