//! The log's writer. A thread that logs hands its record to a queue and goes on; one thread
//! of its own writes the queue to stdout. Written in place, a record would make the worker
//! that logged it wait whenever whoever reads stdout (a terminal, a container runtime's log
//! pipe, a shipper) falls behind, and with it every connection that worker serves: once the
//! pipe's buffer is full, a gateway logging a failed upstream per request would stop
//! answering. Queued, the wait falls on the log instead: past `limit` bytes waiting, records
//! are dropped and counted (`ferrogate_log_records_dropped_total`), and once the writer
//! has caught up it logs how many went.
//!
//! A limit of 0 writes each record in place, on the thread that logs it: no record is ever
//! dropped, and a stalled reader stalls the gateway.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tracing_subscriber::fmt::MakeWriter;

/// How often, at most, the writer reports dropped records: a reader that keeps falling
/// behind would otherwise add a report to every batch it catches up on.
const REPORT_INTERVAL: Duration = Duration::from_secs(1);

/// How long the writer lets records gather after writing a batch. Woken for each record, it
/// cost more than writing the record in place: a wake-up and two context switches on the
/// logging worker's CPU per record (docs/development.md, "The log's queue"). Gathering, it
/// wakes at most once per interval while records keep coming, and writes them with one
/// system call; idle, it waits for the next record and wakes for nothing.
const GATHER: Duration = Duration::from_millis(5);

type Output = Arc<Mutex<Box<dyn Write + Send>>>;

/// What the writer thread takes from the queue, in the order it was queued.
enum Queued {
    Record(Vec<u8>),
    /// Answered once every record queued before it is out of the output's buffer.
    Flush(SyncSender<()>),
}

struct Shared {
    limit: usize,
    queued_bytes: AtomicUsize,
    dropped: AtomicU64,
    /// Set as the queue is flushed at exit, and cleared if the flush times out: records
    /// logged after it are written in place, since nothing would wait for the writer thread
    /// to write them.
    in_place: AtomicBool,
    output: Output,
}

/// The subscriber's writer: each record it formats is queued whole (see the module's text).
#[derive(Clone)]
pub struct QueuedWriter {
    sender: Option<Sender<Queued>>,
    shared: Arc<Shared>,
}

/// Flushes the queue when dropped, for at most its `flush_timeout`, so that the records
/// logged up to a normal exit reach stdout. A reader stalled longer than that loses them.
pub struct FlushOnDrop {
    sender: Option<Sender<Queued>>,
    shared: Arc<Shared>,
    flush_timeout: Duration,
}

/// One record: the subscriber formats it into this, and dropping it queues it.
pub struct Record<'queue> {
    writer: &'queue QueuedWriter,
    bytes: Vec<u8>,
}

impl QueuedWriter {
    /// A writer to `output` that holds at most `limit` bytes of records waiting (0: none,
    /// each is written in place), its writer thread started, and what flushes it.
    pub fn start(
        output: Box<dyn Write + Send>,
        limit: usize,
        flush_timeout: Duration,
    ) -> io::Result<(QueuedWriter, FlushOnDrop)> {
        let shared = Arc::new(Shared {
            limit,
            queued_bytes: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
            in_place: AtomicBool::new(limit == 0),
            output: Arc::new(Mutex::new(output)),
        });
        let sender = if limit == 0 {
            None
        } else {
            let (sender, receiver) = mpsc::channel();
            let writer_shared = shared.clone();
            std::thread::Builder::new()
                .name("ferrogate-log".into())
                .spawn(move || write_queue(&receiver, &writer_shared))?;
            Some(sender)
        };
        let flush = FlushOnDrop {
            sender: sender.clone(),
            shared: shared.clone(),
            flush_timeout,
        };
        Ok((QueuedWriter { sender, shared }, flush))
    }

    /// Records dropped because the queue was full, since start.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    fn submit(&self, bytes: Vec<u8>) {
        let sender = match &self.sender {
            Some(sender) if !self.shared.in_place.load(Ordering::Acquire) => sender,
            _ => return write_in_place(&self.shared.output, &bytes),
        };
        let shared = &self.shared;
        let length = bytes.len();
        let before = shared.queued_bytes.fetch_add(length, Ordering::AcqRel);
        // A record longer than the whole limit still goes when nothing waits before it.
        if before > 0 && before + length > shared.limit {
            shared.queued_bytes.fetch_sub(length, Ordering::AcqRel);
            shared.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if sender.send(Queued::Record(bytes)).is_err() {
            // The writer thread is gone (it cannot be, short of a panic in a write): the
            // record is lost, and counted.
            shared.queued_bytes.fetch_sub(length, Ordering::AcqRel);
            shared.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl<'queue> MakeWriter<'queue> for QueuedWriter {
    type Writer = Record<'queue>;

    fn make_writer(&'queue self) -> Record<'queue> {
        Record {
            writer: self,
            bytes: Vec::new(),
        }
    }
}

impl Write for Record<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.bytes.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Record<'_> {
    fn drop(&mut self) {
        if !self.bytes.is_empty() {
            self.writer.submit(std::mem::take(&mut self.bytes));
        }
    }
}

impl Drop for FlushOnDrop {
    fn drop(&mut self) {
        let Some(sender) = &self.sender else {
            return; // written in place from the start
        };
        let shared = &self.shared;
        shared.in_place.store(true, Ordering::Release);
        let (done, flushed) = mpsc::sync_channel(1);
        if sender.send(Queued::Flush(done)).is_err() {
            return; // no writer thread left to wait for
        }
        if flushed.recv_timeout(self.flush_timeout).is_err() {
            // The writer is stuck on stdout: writing in place would hang whoever logs next
            // on the same output lock.
            shared.in_place.store(false, Ordering::Release);
        }
    }
}

fn write_in_place(output: &Output, bytes: &[u8]) {
    let mut output = output.lock().unwrap_or_else(PoisonError::into_inner);
    // Nowhere to report a failed write to the log but the log.
    let _ = output.write_all(bytes).and_then(|()| output.flush());
}

/// The writer thread: writes what is queued, a batch at a time, flushing when the queue is
/// empty and then letting the next batch gather ([`GATHER`]), until every [`QueuedWriter`]
/// is gone.
fn write_queue(receiver: &Receiver<Queued>, shared: &Shared) {
    let mut reported = 0;
    let mut last_report: Option<Instant> = None;
    loop {
        let report_due = last_report.map(|at| at + REPORT_INTERVAL);
        let pending = shared.dropped.load(Ordering::Relaxed) > reported;
        let first = match report_due {
            Some(due) if pending => {
                match receiver.recv_timeout(due.saturating_duration_since(Instant::now())) {
                    Ok(record) => Some(record),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
            _ => match receiver.recv() {
                Ok(record) => Some(record),
                Err(_) => return,
            },
        };
        if let Some(first) = first {
            let mut output = shared.output.lock().unwrap_or_else(PoisonError::into_inner);
            let mut next = Some(first);
            while let Some(queued) = next {
                match queued {
                    Queued::Record(bytes) => {
                        // A failed write (stdout closed) loses the record; the queue must
                        // still drain.
                        let _ = output.write_all(&bytes);
                        shared.queued_bytes.fetch_sub(bytes.len(), Ordering::AcqRel);
                    }
                    Queued::Flush(done) => {
                        let _ = output.flush();
                        let _ = done.try_send(());
                    }
                }
                next = receiver.try_recv().ok();
            }
            let _ = output.flush();
            drop(output);
            std::thread::sleep(GATHER);
        }
        let dropped = shared.dropped.load(Ordering::Relaxed);
        if dropped > reported && report_due.is_none_or(|due| Instant::now() >= due) {
            tracing::warn!(
                dropped = dropped - reported,
                dropped_since_start = dropped,
                "the log's reader fell behind: records were dropped rather than make the gateway wait for it (see --log-buffer-kib)"
            );
            reported = dropped;
            last_report = Some(Instant::now());
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Condvar;

    use super::*;

    /// An output that holds its writes back until told to go on, as a stalled pipe does.
    #[derive(Clone)]
    struct Stalled {
        written: Arc<Mutex<Vec<u8>>>,
        gate: Arc<(Mutex<bool>, Condvar)>,
        entered: SyncSender<()>,
    }

    impl Stalled {
        fn new() -> (Stalled, Receiver<()>) {
            let (entered, entered_rx) = mpsc::sync_channel(1024);
            let stalled = Stalled {
                written: Arc::default(),
                gate: Arc::new((Mutex::new(false), Condvar::new())),
                entered,
            };
            (stalled, entered_rx)
        }

        fn open(&self) {
            *self.gate.0.lock().unwrap() = true;
            self.gate.1.notify_all();
        }

        fn text(&self) -> String {
            String::from_utf8(self.written.lock().unwrap().clone()).unwrap()
        }
    }

    impl Write for Stalled {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            let _ = self.entered.try_send(());
            let open = self.gate.0.lock().unwrap();
            drop(self.gate.1.wait_while(open, |open| !*open).unwrap());
            self.written.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn log(writer: &QueuedWriter, text: &str) {
        let mut record = writer.make_writer();
        record.write_all(text.as_bytes()).unwrap();
    }

    /// A queue of `limit` bytes onto a stalled output, and what tells when its writer
    /// thread has entered a write.
    fn queue_onto_stalled(
        limit: usize,
        flush_timeout: Duration,
    ) -> (Stalled, Receiver<()>, QueuedWriter, FlushOnDrop) {
        let (output, entered) = Stalled::new();
        let (writer, flush) =
            QueuedWriter::start(Box::new(output.clone()), limit, flush_timeout).unwrap();
        (output, entered, writer, flush)
    }

    /// A queue of `limit` bytes onto an output that takes every write at once.
    fn queue_onto_open(limit: usize) -> (Stalled, QueuedWriter, FlushOnDrop) {
        let (output, _entered, writer, flush) = queue_onto_stalled(limit, Duration::from_secs(5));
        output.open();
        (output, writer, flush)
    }

    fn wait_until(what: &str, condition: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !condition() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn records_reach_the_output_whole_and_in_order() {
        let (output, writer, flush) = queue_onto_open(1 << 20);
        let threads: Vec<_> = (0..4)
            .map(|thread| {
                let writer = writer.clone();
                std::thread::spawn(move || {
                    for n in 0..200 {
                        let mut record = writer.make_writer();
                        // Written in pieces, as a formatter may: the record stays one.
                        write!(record, "thread {thread} ").unwrap();
                        writeln!(record, "record {n}").unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        drop(flush);
        let text = output.text();
        assert_eq!(text.lines().count(), 800, "{text}");
        for thread in 0..4 {
            let numbers: Vec<usize> = text
                .lines()
                .filter_map(|line| line.strip_prefix(&format!("thread {thread} record ")))
                .map(|n| n.parse().unwrap())
                .collect();
            assert_eq!(numbers, (0..200).collect::<Vec<_>>(), "thread {thread}");
        }
        assert_eq!(writer.dropped(), 0);
    }

    #[test]
    fn a_stalled_output_drops_records_past_the_limit_and_never_blocks_the_logger() {
        let (output, entered, writer, _flush) = queue_onto_stalled(100, Duration::from_secs(5));
        log(&writer, "first\n");
        // The writer thread is now stuck in the output's write, as on a full pipe.
        entered.recv_timeout(Duration::from_secs(10)).unwrap();
        let logger = std::thread::spawn(move || {
            for n in 0..100 {
                log(&writer, &format!("record {n:02}\n"));
            }
            writer
        });
        // With the output stalled, only a logger that never waits can finish.
        wait_until("the logger, on a stalled output", || logger.is_finished());
        let writer = logger.join().unwrap();
        // The first record's 6 bytes count until written: 9 records of 10 bytes fit beside
        // them in 100.
        assert_eq!(writer.dropped(), 91);
        output.open();
        let expected: String = std::iter::once("first\n".to_owned())
            .chain((0..9).map(|n| format!("record {n:02}\n")))
            .collect();
        wait_until("the queue's records", || {
            output.text().lines().count() == 10
        });
        assert_eq!(output.text(), expected);
        // Caught up, the queue takes records again.
        log(&writer, "after\n");
        wait_until("the record after", || output.text().ends_with("after\n"));
    }

    #[test]
    fn a_record_longer_than_the_limit_goes_when_nothing_waits() {
        let (output, writer, flush) = queue_onto_open(8);
        log(&writer, "a record of more than eight bytes\n");
        drop(flush);
        assert_eq!(output.text(), "a record of more than eight bytes\n");
        assert_eq!(writer.dropped(), 0);
    }

    #[test]
    fn the_flush_at_exit_waits_for_the_queue_then_records_are_written_in_place() {
        let (output, entered, writer, flush) = queue_onto_stalled(1 << 20, Duration::from_secs(10));
        log(&writer, "one\n");
        entered.recv_timeout(Duration::from_secs(10)).unwrap();
        log(&writer, "two\n");
        let opener = {
            let output = output.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(200));
                output.open();
            })
        };
        drop(flush);
        assert_eq!(output.text(), "one\ntwo\n");
        opener.join().unwrap();
        // No writer thread would be waited for now: the record is out when log returns.
        log(&writer, "three\n");
        assert_eq!(output.text(), "one\ntwo\nthree\n");
    }

    #[test]
    fn the_flush_at_exit_gives_up_on_a_stalled_output() {
        let (output, entered, writer, flush) =
            queue_onto_stalled(1 << 20, Duration::from_millis(100));
        log(&writer, "stuck\n");
        entered.recv_timeout(Duration::from_secs(10)).unwrap();
        log(&writer, "behind it\n");
        let started = Instant::now();
        drop(flush);
        assert!(started.elapsed() < Duration::from_secs(5));
        // Still queued, not written in place: that would wait on the stalled output too.
        let logger = std::thread::spawn(move || log(&writer, "after the flush\n"));
        wait_until("the logger", || logger.is_finished());
        output.open();
    }

    #[test]
    fn a_limit_of_zero_writes_in_place() {
        let (output, writer, _flush) = queue_onto_open(0);
        log(&writer, "in place\n");
        assert_eq!(output.text(), "in place\n");
    }
}
