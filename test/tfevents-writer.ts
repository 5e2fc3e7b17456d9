// A small writer of TensorBoard event files for tests: TFRecord framing (uint64 length, masked CRC32C of it, data,
// masked CRC32C of the data) around Event protos encoded with @bufbuild/protobuf's BinaryWriter, fields in number
// order as protobuf runtimes write them. Checked byte for byte against the fixture project's stdlib encoder and
// against Google's protobuf runtime (test/fixtures/metrics/tfevents-protobuf.py) in server/metrics/tfevents.test.ts.
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { crc32c, maskCrc } from '../server/metrics/tfevents.js';

export interface TestScalar {
  tag: string;
  value: number;
  /** simple_value (TF1, tensorboardX, torch) or a rank-0 tensor (TF2's tf.summary.scalar). */
  as?: 'simple' | 'float-tensor' | 'double-tensor';
  /** Writes SummaryMetadata with this plugin name (TF writes it in a tag's first event only). */
  plugin?: string;
}

export interface TestEvent {
  wallTime: number;
  step?: number;
  fileVersion?: string;
  graphDef?: Uint8Array;
  scalars?: TestScalar[];
}

function value(scalar: TestScalar): Uint8Array {
  const writer = new BinaryWriter();
  writer.tag(1, 2).string(scalar.tag);
  const as = scalar.as ?? 'simple';
  if (as === 'simple') writer.tag(2, 5).float(scalar.value);
  else {
    const tensor = new BinaryWriter();
    tensor.tag(1, 0).int32(as === 'float-tensor' ? 1 : 2);
    tensor.tag(2, 2).bytes(new Uint8Array());
    if (as === 'float-tensor') tensor.tag(5, 2).bytes(new BinaryWriter().float(scalar.value).finish());
    else tensor.tag(6, 2).bytes(new BinaryWriter().double(scalar.value).finish());
    writer.tag(8, 2).bytes(tensor.finish());
  }
  if (scalar.plugin !== undefined) {
    const plugin = new BinaryWriter().tag(1, 2).string(scalar.plugin).finish();
    writer.tag(9, 2).bytes(new BinaryWriter().tag(1, 2).bytes(plugin).finish());
  }
  return writer.finish();
}

export function encodeEvent(event: TestEvent): Uint8Array {
  const writer = new BinaryWriter();
  writer.tag(1, 1).double(event.wallTime);
  if (event.step !== undefined) writer.tag(2, 0).int64(event.step);
  if (event.fileVersion !== undefined) writer.tag(3, 2).string(event.fileVersion);
  if (event.graphDef !== undefined) writer.tag(4, 2).bytes(event.graphDef);
  if (event.scalars !== undefined) {
    const summary = new BinaryWriter();
    for (const scalar of event.scalars) summary.tag(1, 2).bytes(value(scalar));
    writer.tag(5, 2).bytes(summary.finish());
  }
  return writer.finish();
}

/** One TFRecord around `data`. */
export function tfrecord(data: Uint8Array): Buffer {
  const out = Buffer.alloc(16 + data.length);
  out.writeUInt32LE(data.length, 0);
  out.writeUInt32LE(0, 4);
  out.writeUInt32LE(maskCrc(crc32c(out, 0, 8)), 8);
  out.set(data, 12);
  out.writeUInt32LE(maskCrc(crc32c(data)), 12 + data.length);
  return out;
}

export function eventFile(events: TestEvent[]): Buffer {
  return Buffer.concat(events.map((event) => tfrecord(encodeEvent(event))));
}
