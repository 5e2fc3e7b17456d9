// TensorBoard event files: TFRecord framing (uint64 length LE, masked CRC32C of those 8 bytes, the data, masked
// CRC32C of the data) around tensorflow.Event protos. Scalars only: Summary.Value.simple_value (TF1, tensorboardX,
// torch.utils.tensorboard) and rank-0 DT_FLOAT/DT_DOUBLE tensors (TF2's tf.summary.scalar, plugin "scalars").
//
// Decoded with @bufbuild/protobuf's BinaryReader field by field rather than from message descriptors: we need six
// fields of five messages (tensorflow/core/util/event.proto, framework/summary.proto, tensor.proto, tensor_shape.proto)
// and must pass over everything else (graphs, images, histograms) without decoding it; hand-written descriptors
// would be more code than the reads, and there is no codegen step in this project.
//
// Damage: a record whose data CRC fails is passed over and counted (its length was checked by its own CRC, so the
// next record is where it says). A length whose CRC fails means the framing is lost: the reader moves on byte by
// byte until a length checks again, counted once per lost stretch. A last record not yet whole (the writer is
// mid-write, or the job died) is left unconsumed and yields nothing, also on the final read. A record longer than
// MAX_RECORD_BYTES is never a scalar event (TF writes one small event per value): it is passed over by its length,
// across calls if needed, without being held in memory.
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { MAX_RECORD_BYTES } from './parse-records.js';
import type { ParsedPoint, ParseResult } from './parse.js';

export interface TfeventsState {
  /** Bytes of an over-long record still to pass over. */
  skip: number;
  /** Records passed over for a failed data CRC, and stretches lost to a failed length CRC. */
  badRecords: number;
  lostFraming: boolean;
  /** Records whose CRC held but whose protobuf did not parse. */
  malformed: number;
  /** The plugin each tag declared in its first event's metadata (TF writes it only once per tag). */
  plugins: Record<string, string>;
}

const MAX_TAGS = 2000;
const SCALARS_PLUGIN = 'scalars';
const DT_FLOAT = 1;
const DT_DOUBLE = 2;
const DATA_CLASS_SCALAR = 1;

export function initialTfeventsState(): TfeventsState {
  return { skip: 0, badRecords: 0, lostFraming: false, malformed: 0, plugins: {} };
}

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32C (Castagnoli, reflected, as iSCSI and TFRecord use it). */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0xffffffff;
  for (let i = start; i < end; i++) crc = CRC32C_TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** TFRecord's mask, so that a CRC of data holding CRCs stays a good check: rotate right by 15, add a constant. */
export function maskCrc(crc: number): number {
  return (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0;
}

interface ScalarValue {
  tag: string;
  value: number;
}

function skipField(reader: BinaryReader, wireType: WireType, fieldNo: number): void {
  reader.skip(wireType, fieldNo);
}

function pluginOf(bytes: Uint8Array): { plugin: string | null; scalarClass: boolean } {
  const reader = new BinaryReader(bytes);
  let plugin: string | null = null;
  let scalarClass = false;
  while (reader.pos < reader.len) {
    const [field, wire] = reader.tag();
    if (field === 1 && wire === WireType.LengthDelimited) {
      const data = new BinaryReader(reader.bytes());
      while (data.pos < data.len) {
        const [inner, innerWire] = data.tag();
        if (inner === 1 && innerWire === WireType.LengthDelimited) plugin = data.string();
        else skipField(data, innerWire, inner);
      }
    } else if (field === 4 && wire === WireType.Varint) scalarClass = reader.int32() === DATA_CLASS_SCALAR;
    else skipField(reader, wire, field);
  }
  return { plugin, scalarClass };
}

/** The one number of a rank-0 (or single-element) float or double tensor, else undefined. */
function tensorScalar(bytes: Uint8Array): number | undefined {
  const reader = new BinaryReader(bytes);
  let dtype = 0;
  let elements = 1;
  const values: number[] = [];
  let content: Uint8Array | undefined;
  while (reader.pos < reader.len) {
    const [field, wire] = reader.tag();
    if (field === 1 && wire === WireType.Varint) dtype = reader.int32();
    else if (field === 2 && wire === WireType.LengthDelimited) {
      const shape = new BinaryReader(reader.bytes());
      while (shape.pos < shape.len) {
        const [inner, innerWire] = shape.tag();
        if (inner === 2 && innerWire === WireType.LengthDelimited) {
          const dim = new BinaryReader(shape.bytes());
          let size = 0;
          while (dim.pos < dim.len) {
            const [d, dWire] = dim.tag();
            if (d === 1 && dWire === WireType.Varint) size = Number(dim.int64());
            else skipField(dim, dWire, d);
          }
          elements *= size;
        } else if (inner === 3 && innerWire === WireType.Varint && shape.bool()) elements = Number.NaN;
        else skipField(shape, innerWire, inner);
      }
    } else if (field === 4 && wire === WireType.LengthDelimited) content = reader.bytes();
    else if (field === 5 && wire === WireType.LengthDelimited) {
      const packed = new BinaryReader(reader.bytes());
      while (packed.pos < packed.len) values.push(packed.float());
    } else if (field === 5 && wire === WireType.Bit32) values.push(reader.float());
    else if (field === 6 && wire === WireType.LengthDelimited) {
      const packed = new BinaryReader(reader.bytes());
      while (packed.pos < packed.len) values.push(packed.double());
    } else if (field === 6 && wire === WireType.Bit64) values.push(reader.double());
    else skipField(reader, wire, field);
  }
  if ((dtype !== DT_FLOAT && dtype !== DT_DOUBLE) || elements !== 1) return undefined;
  if (content !== undefined && content.length > 0) {
    const width = dtype === DT_FLOAT ? 4 : 8;
    if (content.length !== width) return undefined;
    const view = new DataView(content.buffer, content.byteOffset, content.length);
    return dtype === DT_FLOAT ? view.getFloat32(0, true) : view.getFloat64(0, true);
  }
  // One value stands for the whole tensor when the shape has one element (TF's "splat" of the last value).
  return values.length >= 1 ? values.at(-1) : undefined;
}

function summaryScalars(bytes: Uint8Array, plugins: Record<string, string>): ScalarValue[] {
  const scalars: ScalarValue[] = [];
  const summary = new BinaryReader(bytes);
  while (summary.pos < summary.len) {
    const [field, wire] = summary.tag();
    if (field !== 1 || wire !== WireType.LengthDelimited) {
      skipField(summary, wire, field);
      continue;
    }
    const value = new BinaryReader(summary.bytes());
    let tag = '';
    let simple: number | undefined;
    let tensor: Uint8Array | undefined;
    let metadata: Uint8Array | undefined;
    while (value.pos < value.len) {
      const [inner, innerWire] = value.tag();
      if (inner === 1 && innerWire === WireType.LengthDelimited) tag = value.string();
      else if (inner === 2 && innerWire === WireType.Bit32) simple = value.float();
      else if (inner === 8 && innerWire === WireType.LengthDelimited) tensor = value.bytes();
      else if (inner === 9 && innerWire === WireType.LengthDelimited) metadata = value.bytes();
      else skipField(value, innerWire, inner);
    }
    if (tag === '') continue;
    let plugin = plugins[tag];
    if (metadata !== undefined) {
      const declared = pluginOf(metadata);
      const name = declared.plugin ?? (declared.scalarClass ? SCALARS_PLUGIN : '');
      if (plugin === undefined && Object.keys(plugins).length < MAX_TAGS) plugins[tag] = name;
      plugin = name;
    }
    if (simple !== undefined) scalars.push({ tag, value: simple });
    else if (tensor !== undefined && (plugin === undefined || plugin === SCALARS_PLUGIN || plugin === '')) {
      const number = tensorScalar(tensor);
      if (number !== undefined) scalars.push({ tag, value: number });
    }
  }
  return scalars;
}

/** The scalar points of one Event record; throws on a malformed protobuf (the caller counts it). */
function eventPoints(data: Uint8Array, plugins: Record<string, string>): ParsedPoint[] {
  const reader = new BinaryReader(data);
  let wallTime: number | undefined;
  let step = 0;
  let summary: Uint8Array | undefined;
  while (reader.pos < reader.len) {
    const [field, wire] = reader.tag();
    if (field === 1 && wire === WireType.Bit64) wallTime = reader.double();
    else if (field === 2 && wire === WireType.Varint) step = Number(reader.int64());
    else if (field === 5 && wire === WireType.LengthDelimited) summary = reader.bytes();
    else skipField(reader, wire, field);
  }
  if (summary === undefined) return [];
  const time = wallTime !== undefined && Number.isFinite(wallTime) && wallTime > 0 ? wallTime * 1000 : null;
  return summaryScalars(summary, plugins).map(({ tag, value }) => ({ name: tag, step, value, time }));
}

const HEADER = 12;
const FOOTER = 4;

export function parseTfevents(chunk: Buffer, state: TfeventsState): ParseResult<TfeventsState> {
  const next: TfeventsState = structuredClone(state);
  const points: ParsedPoint[] = [];
  let at = Math.min(next.skip, chunk.length);
  next.skip -= at;
  if (next.skip > 0) return { points, consumed: at, state: next };
  while (chunk.length - at >= HEADER) {
    const low = chunk.readUInt32LE(at);
    const high = chunk.readUInt32LE(at + 4);
    if (maskCrc(crc32c(chunk, at, at + 8)) !== chunk.readUInt32LE(at + 8) || high !== 0) {
      if (!next.lostFraming) next.badRecords++;
      next.lostFraming = true;
      at++;
      continue;
    }
    const total = HEADER + low + FOOTER;
    if (low > MAX_RECORD_BYTES) {
      next.lostFraming = false;
      const available = Math.min(total, chunk.length - at);
      next.skip = total - available;
      at += available;
      if (next.skip > 0) break;
      continue;
    }
    // Not whole yet: given again with more bytes next time (or never, if this was a torn last record).
    if (chunk.length - at < total) break;
    next.lostFraming = false;
    const dataStart = at + HEADER;
    const dataEnd = dataStart + low;
    if (maskCrc(crc32c(chunk, dataStart, dataEnd)) !== chunk.readUInt32LE(dataEnd)) next.badRecords++;
    else {
      try {
        points.push(...eventPoints(chunk.subarray(dataStart, dataEnd), next.plugins));
      } catch {
        next.malformed++;
      }
    }
    at += total;
  }
  return { points, consumed: at, state: next };
}
