//! The reference floor's work per request (the `perf_floor` library: the same parsing, header
//! maps and forwarded fields as `perf-floor`) over io_uring instead of tokio's epoll loop. It
//! answers a question the tokio floor cannot: whether a proxy that reaches the kernel the way
//! io_uring's authors recommend for sockets costs less per request than one that makes a
//! system call per read and write.
//!
//! One thread and one ring. Every socket has a multishot receive armed for as long as it is
//! open, which takes its buffers from a ring of provided buffers: data that arrives is read
//! by the kernel's own wake-up work and reported, with no `epoll_wait`, no `recv` call and no
//! re-arming per request. Sends and writes are queued and go out with the next
//! `io_uring_enter`, which also waits for the next completions: one system call per pass of
//! the loop, whatever the pass did.
//!
//! Per exchange: read the client's request head, send it to a pooled upstream connection,
//! read the response head and its `Content-Length` body, write head and body to the client
//! with one `writev`. Upstream connections are opened with a blocking `connect`, which only
//! the first requests of a load test wait for. Like the tokio floor: no routing, no timeouts,
//! no limits, no request bodies, no chunked responses, no error answers.
//!
//! usage: perf-floor-uring LISTEN_ADDRESS UPSTREAM_ADDRESS
//!        perf-floor-uring --check    (exits 0 if this kernel allows the ring it needs)

// The kernel reads and writes the exchanges' buffers and the provided buffers between an
// operation's submission and its completion, which no safe API of the ring can check.
#![allow(unsafe_code)]

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::sync::atomic::{AtomicU16, Ordering};

use bytes::{BufMut, Bytes, BytesMut};
use http::HeaderValue;
use io_uring::types::BufRingEntry;
use io_uring::{IoUring, cqueue, opcode, squeue, types};
use perf_floor::{Head, content_length, forward_request, put_head, take_head};

#[global_allocator]
static ALLOCATOR: ferrogate_alloc::MiMalloc = ferrogate_alloc::MiMalloc;

const RING_ENTRIES: u32 = 1024;

const BUFFER_GROUP: u16 = 0;
/// A power of two, as the kernel wants; enough for every connection of a load test to have
/// one in use at once.
const BUFFERS: u16 = 1024;
const BUFFER_SIZE: usize = 4096;

/// What a completion is for: the listener's accept, or one socket's operation. The operation
/// is in the user data's low bits, the slot of its exchange or upstream connection above.
const ACCEPT: u64 = u64::MAX;
const CLIENT_RECV: u64 = 0;
const CLIENT_WRITE: u64 = 1;
const UPSTREAM_RECV: u64 = 2;
const UPSTREAM_SEND: u64 = 3;
const OPERATION_BITS: u32 = 2;

fn user_data(slot: usize, operation: u64) -> u64 {
    ((slot as u64) << OPERATION_BITS) | operation
}

/// One client connection and the request it is in. Boxed in its slot, so that the `iovec`s
/// the kernel reads for a `writev` stay where they are while other slots come and go.
struct Exchange {
    client: TcpStream,
    forwarded_for: HeaderValue,
    buf: BytesMut,
    /// The head being sent: the request to the upstream, then the response to the client.
    out: BytesMut,
    sent: usize,
    upstream: Option<usize>,
    response_length: Option<usize>,
    body: Bytes,
    iovecs: [libc::iovec; 2],
    /// Between reading a request head and having written its response.
    busy: bool,
    receiving: bool,
    writing: bool,
    closing: bool,
}

/// A keep-alive upstream connection with what was read past its last response.
struct Upstream {
    stream: TcpStream,
    buf: BytesMut,
    exchange: Option<usize>,
    receiving: bool,
    sending: bool,
    closing: bool,
}

/// The buffers the kernel picks from for the multishot receives, and the ring through which
/// they are given back to it.
struct ProvidedBuffers {
    entries: *mut BufRingEntry,
    memory: Vec<u8>,
    tail: u16,
}

impl ProvidedBuffers {
    fn register(ring: &IoUring) -> io::Result<Self> {
        let ring_bytes = usize::from(BUFFERS) * size_of::<BufRingEntry>();
        // SAFETY: an anonymous private mapping, which the kernel wants page-aligned; it is
        // never unmapped, since the ring lives as long as the process.
        let entries = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                ring_bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if entries == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let mut buffers = ProvidedBuffers {
            entries: entries.cast(),
            memory: vec![0; usize::from(BUFFERS) * BUFFER_SIZE],
            tail: 0,
        };
        for id in 0..BUFFERS {
            buffers.give_back(id);
        }
        // SAFETY: the mapping holds BUFFERS entries and outlives the ring.
        unsafe {
            ring.submitter().register_buf_ring_with_flags(
                entries as u64,
                BUFFERS,
                BUFFER_GROUP,
                0,
            )?;
        }
        Ok(buffers)
    }

    fn data(&self, id: u16, length: usize) -> &[u8] {
        let start = usize::from(id) * BUFFER_SIZE;
        &self.memory[start..start + length]
    }

    fn give_back(&mut self, id: u16) {
        let index = usize::from(self.tail & (BUFFERS - 1));
        // SAFETY: index is within the mapping; the kernel reads an entry only once the tail
        // published below has passed it.
        let entry = unsafe { &mut *self.entries.add(index) };
        entry.set_addr(self.memory[usize::from(id) * BUFFER_SIZE..].as_ptr() as u64);
        entry.set_len(BUFFER_SIZE as u32);
        entry.set_bid(id);
        self.tail = self.tail.wrapping_add(1);
        // SAFETY: the tail shares the first entry's reserved field, which the kernel reads
        // with acquire ordering.
        unsafe {
            let tail = BufRingEntry::tail(self.entries).cast_mut();
            AtomicU16::from_ptr(tail).store(self.tail, Ordering::Release);
        }
    }
}

struct Proxy {
    ring: IoUring,
    buffers: ProvidedBuffers,
    listener: TcpListener,
    upstream_address: SocketAddr,
    upstream_host: HeaderValue,
    exchanges: Slab<Exchange>,
    upstreams: Slab<Upstream>,
    idle_upstreams: Vec<usize>,
}

/// Boxed values in numbered slots, reused once freed.
struct Slab<T> {
    slots: Vec<Option<Box<T>>>,
    free: Vec<usize>,
}

impl<T> Slab<T> {
    fn new() -> Self {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
        }
    }

    fn insert(&mut self, value: T) -> usize {
        let value = Some(Box::new(value));
        match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = value;
                slot
            }
            None => {
                self.slots.push(value);
                self.slots.len() - 1
            }
        }
    }

    fn get(&mut self, slot: usize) -> &mut T {
        self.slots[slot]
            .as_deref_mut()
            .expect("an operation of a freed slot")
    }

    fn remove(&mut self, slot: usize) {
        if self.slots[slot].take().is_some() {
            self.free.push(slot);
        }
    }
}

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        // Whether this kernel lets the process have the ring it needs (io_uring may be
        // disabled by sysctl or by a container's seccomp filter).
        [check] if check == "--check" => {
            ProvidedBuffers::register(&new_ring()?)?;
            Ok(())
        }
        [listen, upstream] => serve(listen, upstream),
        _ => {
            eprintln!("usage: perf-floor-uring LISTEN_ADDRESS UPSTREAM_ADDRESS | --check");
            std::process::exit(2);
        }
    }
}

fn new_ring() -> io::Result<IoUring> {
    // One thread submits and reaps, so the kernel may run the receives' wake-up work only
    // when the loop asks for completions, not whenever the thread enters the kernel.
    IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .build(RING_ENTRIES)
}

fn serve(listen: &str, upstream: &str) -> io::Result<()> {
    let upstream_address: SocketAddr = upstream.parse().map_err(io::Error::other)?;
    let upstream_host =
        HeaderValue::try_from(upstream_address.to_string()).map_err(io::Error::other)?;
    let ring = new_ring()?;
    let buffers = ProvidedBuffers::register(&ring)?;
    let mut proxy = Proxy {
        ring,
        buffers,
        listener: TcpListener::bind(listen)?,
        upstream_address,
        upstream_host,
        exchanges: Slab::new(),
        upstreams: Slab::new(),
        idle_upstreams: Vec::new(),
    };
    proxy.run()
}

impl Proxy {
    fn run(&mut self) -> io::Result<()> {
        self.push_accept();
        let mut completed = Vec::with_capacity(RING_ENTRIES as usize);
        loop {
            self.ring.submit_and_wait(1)?;
            completed.extend(
                self.ring
                    .completion()
                    .map(|entry| (entry.user_data(), entry.result(), entry.flags())),
            );
            for (data, result, flags) in completed.drain(..) {
                if data == ACCEPT {
                    self.accepted(result);
                    continue;
                }
                let slot = (data >> OPERATION_BITS) as usize;
                match data & ((1 << OPERATION_BITS) - 1) {
                    CLIENT_RECV => self.client_received(slot, result, flags),
                    CLIENT_WRITE => self.client_written(slot, result),
                    UPSTREAM_RECV => self.upstream_received(slot, result, flags),
                    _ => self.upstream_sent(slot, result),
                }
            }
        }
    }

    fn push(&mut self, entry: squeue::Entry) {
        // SAFETY: every entry points into a boxed exchange, the listener or nothing, and what
        // it points to stays alive and untouched until its completion is reaped.
        while unsafe { self.ring.submission().push(&entry) }.is_err() {
            // A full queue is submitted now; what completes meanwhile waits in the
            // completion queue for the next pass.
            if let Err(error) = self.ring.submit() {
                eprintln!("perf-floor-uring: submit: {error}");
            }
        }
    }

    fn push_accept(&mut self) {
        let listener = types::Fd(self.listener.as_raw_fd());
        let entry = opcode::Accept::new(listener, std::ptr::null_mut(), std::ptr::null_mut())
            .flags(libc::SOCK_CLOEXEC)
            .build()
            .user_data(ACCEPT);
        self.push(entry);
    }

    fn push_receive(&mut self, socket: RawFd, data: u64) {
        let entry = opcode::RecvMulti::new(types::Fd(socket), BUFFER_GROUP)
            .build()
            .user_data(data);
        self.push(entry);
    }

    fn accepted(&mut self, result: i32) {
        self.push_accept();
        if result < 0 {
            eprintln!(
                "perf-floor-uring: accept: {}",
                io::Error::from_raw_os_error(-result)
            );
            return;
        }
        // SAFETY: the descriptor is the accept's, new, and owned by nothing else.
        let client = unsafe { TcpStream::from_raw_fd(result) };
        let Ok(peer) = client.peer_addr() else {
            return;
        };
        let Ok(forwarded_for) = HeaderValue::try_from(peer.ip().to_string()) else {
            return;
        };
        if client.set_nodelay(true).is_err() {
            return;
        }
        let slot = self.exchanges.insert(Exchange {
            client,
            forwarded_for,
            buf: BytesMut::new(),
            out: BytesMut::new(),
            sent: 0,
            upstream: None,
            response_length: None,
            body: Bytes::new(),
            iovecs: [libc::iovec {
                iov_base: std::ptr::null_mut(),
                iov_len: 0,
            }; 2],
            busy: false,
            receiving: true,
            writing: false,
            closing: false,
        });
        let socket = self.exchanges.get(slot).client.as_raw_fd();
        self.push_receive(socket, user_data(slot, CLIENT_RECV));
    }

    fn client_received(&mut self, slot: usize, result: i32, flags: u32) {
        let exchange = self.exchanges.get(slot);
        exchange.receiving = cqueue::more(flags);
        let closing = exchange.closing;
        take_received(
            &mut self.buffers,
            result,
            flags,
            (!closing).then_some(&mut exchange.buf),
        );
        if closing {
            return self.free_exchange_if_done(slot);
        }
        // ENOBUFS: every provided buffer was in use, and the bytes wait in the socket for the
        // receive to be armed again.
        if result <= 0 && result != -libc::ENOBUFS {
            return self.close_exchange(slot);
        }
        let exchange = self.exchanges.get(slot);
        if !exchange.receiving {
            exchange.receiving = true;
            let socket = exchange.client.as_raw_fd();
            self.push_receive(socket, user_data(slot, CLIENT_RECV));
        }
        if !self.exchanges.get(slot).busy
            && let Err(_) = self.next_request(slot)
        {
            self.close_exchange(slot);
        }
    }

    /// Forwards the next request in the client's bytes, if a whole head is there.
    fn next_request(&mut self, slot: usize) -> io::Result<()> {
        let Some(mut request) = take_head(&mut self.exchanges.get(slot).buf, true)? else {
            return Ok(());
        };
        let upstream = match self.idle_upstreams.pop() {
            Some(idle) => idle,
            None => self.connect_upstream()?,
        };
        let upstream_host = self.upstream_host.clone();
        let exchange = self.exchanges.get(slot);
        exchange.busy = true;
        exchange.upstream = Some(upstream);
        forward_request(
            &mut request.headers,
            &upstream_host,
            &exchange.forwarded_for,
        )?;
        exchange.out.clear();
        put_head(&mut exchange.out, &request.first_line, &request.headers);
        exchange.sent = 0;
        exchange.response_length = None;
        self.upstreams.get(upstream).exchange = Some(slot);
        self.send_to_upstream(slot, upstream);
        Ok(())
    }

    fn connect_upstream(&mut self) -> io::Result<usize> {
        let stream = TcpStream::connect(self.upstream_address)?;
        stream.set_nodelay(true)?;
        let socket = stream.as_raw_fd();
        let slot = self.upstreams.insert(Upstream {
            stream,
            buf: BytesMut::new(),
            exchange: None,
            receiving: true,
            sending: false,
            closing: false,
        });
        self.push_receive(socket, user_data(slot, UPSTREAM_RECV));
        Ok(slot)
    }

    fn send_to_upstream(&mut self, slot: usize, upstream: usize) {
        let exchange = self.exchanges.get(slot);
        let unsent = &exchange.out[exchange.sent..];
        let (pointer, length) = (unsent.as_ptr(), unsent.len() as u32);
        let connection = self.upstreams.get(upstream);
        connection.sending = true;
        let entry = opcode::Send::new(types::Fd(connection.stream.as_raw_fd()), pointer, length)
            .build()
            .user_data(user_data(upstream, UPSTREAM_SEND));
        self.push(entry);
    }

    fn upstream_sent(&mut self, upstream: usize, result: i32) {
        let connection = self.upstreams.get(upstream);
        connection.sending = false;
        let exchange = connection.exchange;
        if connection.closing {
            return self.free_upstream_if_done(upstream);
        }
        let Some(slot) = exchange else {
            return;
        };
        let Ok(count) = written(result) else {
            return self.close_exchange(slot);
        };
        let exchange = self.exchanges.get(slot);
        exchange.sent += count;
        if exchange.sent < exchange.out.len() {
            return self.send_to_upstream(slot, upstream);
        }
        if self.relay_response(slot, upstream).is_err() {
            self.close_exchange(slot);
        }
    }

    fn upstream_received(&mut self, upstream: usize, result: i32, flags: u32) {
        let connection = self.upstreams.get(upstream);
        connection.receiving = cqueue::more(flags);
        let closing = connection.closing;
        take_received(
            &mut self.buffers,
            result,
            flags,
            (!closing).then_some(&mut connection.buf),
        );
        if closing {
            return self.free_upstream_if_done(upstream);
        }
        let exchange = self.upstreams.get(upstream).exchange;
        if result <= 0 && result != -libc::ENOBUFS {
            return match exchange {
                Some(slot) => self.close_exchange(slot),
                None => self.close_upstream(upstream),
            };
        }
        let connection = self.upstreams.get(upstream);
        if !connection.receiving {
            connection.receiving = true;
            let socket = connection.stream.as_raw_fd();
            self.push_receive(socket, user_data(upstream, UPSTREAM_RECV));
        }
        if let Some(slot) = exchange
            && !self.upstreams.get(upstream).sending
            && self.relay_response(slot, upstream).is_err()
        {
            self.close_exchange(slot);
        }
    }

    /// Writes the response to the client once its head and body have been read, and gives
    /// the upstream connection back to the pool.
    fn relay_response(&mut self, slot: usize, upstream: usize) -> io::Result<()> {
        let buf = &mut self.upstreams.get(upstream).buf;
        let exchange = self.exchanges.get(slot);
        if exchange.response_length.is_none() {
            let Some(Head {
                first_line,
                headers,
            }) = take_head(buf, false)?
            else {
                return Ok(());
            };
            exchange.response_length = Some(content_length(&headers)?);
            exchange.out.clear();
            put_head(&mut exchange.out, &first_line, &headers);
        }
        let length = exchange.response_length.unwrap_or_default();
        if buf.len() < length {
            return Ok(());
        }
        exchange.body = buf.split_to(length).freeze();
        exchange.upstream = None;
        exchange.sent = 0;
        self.upstreams.get(upstream).exchange = None;
        self.idle_upstreams.push(upstream);
        self.write_to_client(slot);
        Ok(())
    }

    fn write_to_client(&mut self, slot: usize) {
        let exchange = self.exchanges.get(slot);
        let head_len = exchange.out.len();
        let (head, body) = if exchange.sent < head_len {
            (&exchange.out[exchange.sent..], &exchange.body[..])
        } else {
            (
                &exchange.out[..0],
                &exchange.body[exchange.sent - head_len..],
            )
        };
        exchange.iovecs = [
            libc::iovec {
                iov_base: head.as_ptr() as *mut libc::c_void,
                iov_len: head.len(),
            },
            libc::iovec {
                iov_base: body.as_ptr() as *mut libc::c_void,
                iov_len: body.len(),
            },
        ];
        exchange.writing = true;
        let entry = opcode::Writev::new(
            types::Fd(exchange.client.as_raw_fd()),
            exchange.iovecs.as_ptr(),
            exchange.iovecs.len() as u32,
        )
        .build()
        .user_data(user_data(slot, CLIENT_WRITE));
        self.push(entry);
    }

    fn client_written(&mut self, slot: usize, result: i32) {
        let exchange = self.exchanges.get(slot);
        exchange.writing = false;
        if exchange.closing {
            return self.free_exchange_if_done(slot);
        }
        let Ok(count) = written(result) else {
            return self.close_exchange(slot);
        };
        exchange.sent += count;
        if exchange.sent < exchange.out.len() + exchange.body.len() {
            return self.write_to_client(slot);
        }
        exchange.body = Bytes::new();
        exchange.busy = false;
        if self.next_request(slot).is_err() {
            self.close_exchange(slot);
        }
    }

    /// Shuts the client's socket down, which ends its multishot receive, and the upstream
    /// connection of a request in progress, whose response is then unknown. Each slot is
    /// freed once its last operation has completed.
    fn close_exchange(&mut self, slot: usize) {
        let exchange = self.exchanges.get(slot);
        if exchange.closing {
            return;
        }
        exchange.closing = true;
        let _ = exchange.client.shutdown(Shutdown::Both);
        if let Some(upstream) = exchange.upstream.take() {
            self.close_upstream(upstream);
        }
        self.free_exchange_if_done(slot);
    }

    fn close_upstream(&mut self, upstream: usize) {
        let connection = self.upstreams.get(upstream);
        if connection.closing {
            return;
        }
        connection.closing = true;
        connection.exchange = None;
        let _ = connection.stream.shutdown(Shutdown::Both);
        self.idle_upstreams.retain(|&idle| idle != upstream);
        self.free_upstream_if_done(upstream);
    }

    fn free_exchange_if_done(&mut self, slot: usize) {
        let exchange = self.exchanges.get(slot);
        if !exchange.receiving && !exchange.writing {
            self.exchanges.remove(slot);
        }
    }

    fn free_upstream_if_done(&mut self, upstream: usize) {
        let connection = self.upstreams.get(upstream);
        if !connection.receiving && !connection.sending {
            self.upstreams.remove(upstream);
        }
    }
}

/// Copies a receive's bytes out of its provided buffer, and gives the buffer back.
fn take_received(
    buffers: &mut ProvidedBuffers,
    result: i32,
    flags: u32,
    into: Option<&mut BytesMut>,
) {
    let Some(id) = cqueue::buffer_select(flags) else {
        return;
    };
    if let (Some(buf), Ok(length)) = (into, usize::try_from(result)) {
        buf.put_slice(buffers.data(id, length));
    }
    buffers.give_back(id);
}

/// The byte count of a completed send or write; none at all would never finish the write.
fn written(result: i32) -> io::Result<usize> {
    match usize::try_from(result) {
        Ok(0) => Err(io::ErrorKind::WriteZero.into()),
        Ok(count) => Ok(count),
        Err(_) => Err(io::Error::from_raw_os_error(-result)),
    }
}
