//! TFRecord framing, the container of a TensorBoard event file: each record
//! is its length (u64, little-endian), the masked CRC32C of those 8 bytes,
//! the data, and the masked CRC32C of the data. A reader that meets a
//! record cut short (a writer killed mid-write) stops there: every record
//! before it is whole.

use crc::{CRC_32_ISCSI, Crc, Table};

/// CRC32C (Castagnoli), as TensorFlow's `crc32c` computes it.
const CASTAGNOLI: Crc<u32, Table<16>> = Crc::<u32, Table<16>>::new(&CRC_32_ISCSI);

/// TensorFlow's mask, so that a CRC of data holding CRCs stays strong.
const MASK_DELTA: u32 = 0xa282_ead8;

/// The masked CRC32C of `bytes`, as a TFRecord stores it.
pub fn masked_crc32c(bytes: &[u8]) -> u32 {
    let crc = CASTAGNOLI.checksum(bytes);
    crc.rotate_right(15).wrapping_add(MASK_DELTA)
}

/// Appends `data` to `out` as one whole record.
pub fn frame_into(out: &mut Vec<u8>, data: &[u8]) {
    let len = (data.len() as u64).to_le_bytes();
    out.reserve(data.len() + 16);
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc32c(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc32c(data).to_le_bytes());
}

/// What reading records back found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Records<'a> {
    /// The data of every whole record, in order.
    pub records: Vec<&'a [u8]>,
    /// Bytes after the last whole record: a record cut short (0 when the
    /// file ends on a record's end).
    pub torn: usize,
    /// Whether a record's checksum was wrong (reading stopped there).
    pub corrupt: bool,
}

/// Splits `bytes` into records, stopping at a record cut short or one
/// whose checksums disagree — as TensorBoard's reader does.
pub fn read_records(bytes: &[u8]) -> Records<'_> {
    let mut records = Vec::new();
    let mut at = 0;
    let mut corrupt = false;
    while at < bytes.len() {
        let Some(head) = bytes.get(at..at + 12) else { break };
        let (len, crc) = head.split_at(8);
        if u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]) != masked_crc32c(len) {
            corrupt = true;
            break;
        }
        let mut len8 = [0u8; 8];
        len8.copy_from_slice(len);
        let Ok(n) = usize::try_from(u64::from_le_bytes(len8)) else {
            corrupt = true;
            break;
        };
        let Some(end) = (at + 12).checked_add(n).and_then(|e| e.checked_add(4)) else {
            corrupt = true;
            break;
        };
        let Some(whole) = bytes.get(at + 12..end) else { break };
        let (data, crc) = whole.split_at(n);
        if u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]) != masked_crc32c(data) {
            corrupt = true;
            break;
        }
        records.push(data);
        at = end;
    }
    Records {
        records,
        torn: if corrupt { 0 } else { bytes.len() - at },
        corrupt,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_is_castagnoli_and_the_mask_is_tensorflows() {
        // The check value of CRC-32C.
        assert_eq!(CASTAGNOLI.checksum(b"123456789"), 0xe306_9283);
        // TensorFlow's masked CRC of an empty string (crc 0): the delta alone.
        assert_eq!(masked_crc32c(b""), MASK_DELTA);
        // As TensorBoard's own reader computes them (its `masked_crc32c`).
        assert_eq!(masked_crc32c(b"abc"), 0x21f1_576e);
        assert_eq!(masked_crc32c(&5u64.to_le_bytes()), 0x3e04_b2ea);
    }

    #[test]
    fn records_read_back_and_a_cut_record_is_left_out() {
        let mut file = Vec::new();
        frame_into(&mut file, b"first");
        frame_into(&mut file, b"");
        frame_into(&mut file, &[7u8; 300]);
        let whole = read_records(&file);
        assert_eq!(whole.records, vec![&b"first"[..], &b""[..], &[7u8; 300][..]]);
        assert_eq!((whole.torn, whole.corrupt), (0, false));
        // Cut anywhere inside the last record: the first two stay whole.
        let third = file.len() - (300 + 16);
        for cut in [third + 1, third + 8, third + 12, third + 100, file.len() - 1] {
            let r = read_records(&file[..cut]);
            assert_eq!(r.records.len(), 2, "cut at {cut}");
            assert_eq!((r.torn, r.corrupt), (cut - third, false));
        }
        // A flipped byte is found.
        file[third + 20] ^= 1;
        let r = read_records(&file);
        assert_eq!((r.records.len(), r.corrupt), (2, true));
    }
}
