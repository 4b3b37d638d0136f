//! A layer's uncompressed stream, decoded on its own thread: the
//! compressed bytes are read (downloaded, hashed, stored by whatever reader
//! is given), decompressed and hashed for the diff id on one thread, while
//! the unpacker writes files on the caller's. Chunks pass through a bounded
//! channel, so memory stays bounded whatever the input, and the two halves
//! of the work (inflate and hashing; file creation in the kernel) overlap.

use std::io::{self, BufRead, BufReader, Read};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use sha2::Digest as _;

use crate::timing::{self, Phase};

/// Uncompressed bytes per chunk handed to the unpacker.
const CHUNK: usize = 256 << 10;
/// Chunks decoded ahead of the unpacker (at most 2 MiB waiting).
const AHEAD: usize = 8;

/// Compression of a layer stream, by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Gzip,
    Zstd,
}

pub(crate) fn sniff(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// A decoder for `r`, chosen by sniffing (media types lie often enough that
/// Docker sniffs too). gzip is read as multi-member, as `gzip -d` does.
pub(crate) fn decoder<'a, R: BufRead + Send + 'a>(
    mut r: R,
) -> io::Result<Box<dyn Read + Send + 'a>> {
    let head = r.fill_buf()?.to_vec();
    Ok(match sniff(&head) {
        // bufread: inflate straight from the caller's buffer, not a second one.
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(r)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(r)?),
        Compression::None => Box::new(r),
    })
}

/// Uncompressed bytes: hashed for the diff id, capped against zip bombs.
pub(crate) struct DiffReader<R> {
    inner: R,
    pub(crate) hasher: sha2::Sha256,
    count: u64,
    limit: u64,
}

impl<R: Read> DiffReader<R> {
    pub(crate) fn new(inner: R, limit: u64) -> DiffReader<R> {
        DiffReader {
            inner,
            hasher: sha2::Sha256::new(),
            count: 0,
            limit,
        }
    }
}

impl<R: Read> Read for DiffReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = timing::timed(Phase::Decompress, || self.inner.read(buf))?;
        self.count += n as u64;
        if self.count > self.limit {
            return Err(io::Error::other(BombError));
        }
        timing::timed(Phase::DiffHash, || self.hasher.update(&buf[..n]));
        Ok(n)
    }
}

/// The error a [`DiffReader`] fails with past its limit.
#[derive(Debug)]
pub(crate) struct BombError;
impl std::fmt::Display for BombError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("layer decompresses past its limit")
    }
}
impl std::error::Error for BombError {}

pub(crate) fn is_bomb(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|i| i.is::<BombError>())
}

/// Runs `consume` on the uncompressed stream of `compressed` (sniffed,
/// decoded and hashed on a second thread, at most `limit` bytes), then
/// reads what `consume` left so the hash covers every byte. Returns what
/// `consume` returned and the hasher of the whole uncompressed stream; a
/// stream error is the one `consume` saw or, after it, `drain_err`'s.
pub(crate) fn with_decoded<R, T, E>(
    compressed: R,
    limit: u64,
    label: &str,
    consume: impl FnOnce(&mut ChunkReader) -> Result<T, E>,
    drain_err: impl FnOnce(io::Error) -> E,
) -> Result<(T, sha2::Sha256), E>
where
    R: Read + Send,
{
    std::thread::scope(|s| {
        let (tx, rx) = sync_channel(AHEAD);
        let producer = s.spawn(move || {
            let _clock = timing::layer(&format!("{label} (decode thread)"));
            decode_into(compressed, limit, tx)
        });
        let mut chunks = ChunkReader {
            rx,
            chunk: Vec::new(),
            pos: 0,
        };
        let out = consume(&mut chunks);
        let drained = match &out {
            Ok(_) => io::copy(&mut chunks, &mut io::sink()).map(drop),
            Err(_) => Ok(()),
        };
        // Gone, a producer blocked on a full channel stops.
        drop(chunks);
        let hasher = producer.join().expect("the decode thread does not panic");
        let out = out?;
        drained.map_err(drain_err)?;
        Ok((out, hasher))
    })
}

/// The decode thread: sends the stream in chunks, then an error if it
/// failed; stops early when the receiver is gone. Returns the diff hash.
fn decode_into<R: Read + Send>(
    compressed: R,
    limit: u64,
    tx: SyncSender<io::Result<Vec<u8>>>,
) -> sha2::Sha256 {
    let buffered = BufReader::with_capacity(CHUNK, compressed);
    let mut diff = match decoder(buffered) {
        Ok(d) => DiffReader::new(d, limit),
        Err(e) => {
            let _ = tx.send(Err(e));
            return sha2::Sha256::new();
        }
    };
    loop {
        let mut buf = vec![0u8; CHUNK];
        match read_full(&mut diff, &mut buf) {
            Ok(0) => break,
            Ok(n) => {
                buf.truncate(n);
                if tx.send(Ok(buf)).is_err() {
                    break;
                }
            }
            Err(e) => {
                let _ = tx.send(Err(e));
                break;
            }
        }
    }
    diff.hasher
}

/// Reads until `buf` is full or the stream ends.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The unpacker's end of the channel.
pub(crate) struct ChunkReader {
    rx: Receiver<io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    pos: usize,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.pos == self.chunk.len() {
            match self.rx.recv() {
                Ok(next) => {
                    self.chunk = next?;
                    self.pos = 0;
                }
                // The decode thread is done (and sent its error, if any).
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn sha(data: &[u8]) -> Vec<u8> {
        sha2::Sha256::digest(data).to_vec()
    }

    #[test]
    fn whole_stream_hashed_even_when_the_consumer_stops_early() {
        let data: Vec<u8> = (0..3 * CHUNK + 17).map(|i| (i % 251) as u8).collect();
        let (first, h) = with_decoded(
            &gzip(&data)[..],
            u64::MAX,
            "t",
            |r| {
                let mut b = [0u8; 10];
                r.read_exact(&mut b).map(|_| b)
            },
            |e| e,
        )
        .unwrap();
        assert_eq!(&first[..], &data[..10]);
        assert_eq!(h.finalize().to_vec(), sha(&data));
    }

    #[test]
    fn past_the_limit_is_a_bomb_error() {
        let data = vec![0u8; 4 * CHUNK];
        let err = with_decoded(
            &gzip(&data)[..],
            CHUNK as u64,
            "t",
            |r| io::copy(r, &mut io::sink()),
            |e| e,
        )
        .unwrap_err();
        assert!(is_bomb(&err), "{err}");
    }

    #[test]
    fn a_failing_consumer_does_not_hang_the_decoder() {
        // Far more than the channel holds: the decode thread must stop when
        // the consumer is gone, not block forever on a full channel.
        let data = vec![7u8; (AHEAD + 4) * CHUNK];
        let err = with_decoded(
            &gzip(&data)[..],
            u64::MAX,
            "t",
            |_| Err::<(), _>(io::Error::other("refused")),
            |e| e,
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "refused");
    }

    #[test]
    fn a_corrupt_stream_fails() {
        let mut z = gzip(&vec![1u8; CHUNK]);
        let mid = z.len() / 2;
        z[mid] ^= 0xff;
        z.truncate(z.len() - 4);
        let res = with_decoded(
            &z[..],
            u64::MAX,
            "t",
            |r| io::copy(r, &mut io::sink()),
            |e| e,
        );
        assert!(res.is_err());
    }

    #[test]
    fn uncompressed_and_zstd_streams_pass_through() {
        let data = b"plain tar bytes".repeat(1000);
        let z = zstd::encode_all(&data[..], 1).unwrap();
        for input in [&data[..], &z[..]] {
            let (out, h) = with_decoded(
                input,
                u64::MAX,
                "t",
                |r| {
                    let mut v = Vec::new();
                    r.read_to_end(&mut v).map(|_| v)
                },
                |e| e,
            )
            .unwrap();
            assert_eq!(out, data);
            assert_eq!(h.finalize().to_vec(), sha(&data));
        }
    }
}
