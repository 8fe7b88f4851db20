'use strict';
// Unpacks a zip or tar.gz action archive into a directory, as the runner's /init needs for `binary`
// actions. Plain Node (zlib only). It refuses entries that would land outside the directory
// (zip-slip: absolute paths, `..`, symlinks pointing out) and archives that unpack past a size or
// entry-count bound. Every refusal is a string thrown for the runner's
// `Initialization has failed due to: ...` reply.

const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

// 48 MiB, OpenWhisk's code size limit: with the default 64 MB tmpfs it leaves /tmp room for the
// action's own files. The free space of the target file system bounds it further.
const DEFAULT_MAX_BYTES = 48 * 1024 * 1024;
const DEFAULT_MAX_ENTRIES = 20000;
const FREE_SPACE_RESERVE_BYTES = 4 * 1024 * 1024;
// tmpfs charges whole pages: a file costs its size rounded up to one.
const PAGE_BYTES = 4096;
const FAILED = 'There was an error uncompressing the action archive';

function refuse(reason) {
  return `${FAILED}: ${reason}`;
}

// The kind of a base64-encoded archive, from its first bytes as upstream detects it.
function kindOf(data) {
  if (data.length >= 4 && data.readUInt32LE(0) === 0x04034b50) return 'zip';
  if (data.length >= 4 && data.readUInt32LE(0) === 0x06054b50) return 'zip'; // empty archive
  if (data.length >= 3 && data[0] === 0x1f && data[1] === 0x8b && data[2] === 0x08) return 'tgz';
  return undefined;
}

// Writes entries into `directory`, counting what they cost. Symlinks and hard links come last, once
// every file and directory is written, so nothing is ever written through a link.
class Unpacker {
  constructor(directory, limits) {
    this.directory = directory;
    this.maxEntries = limits.maxEntries;
    this.maxBytes = limits.maxBytes;
    this.entries = 0;
    this.bytes = 0;
    this.hardlinks = [];
    this.symlinks = [];
  }

  count(name) {
    if (++this.entries > this.maxEntries) {
      throw refuse(`it has more than ${this.maxEntries} entries.`);
    }
    return safePath(name);
  }

  // Room left for file contents, before `size` more bytes are charged.
  remaining() {
    return this.maxBytes - this.bytes;
  }

  charge(size) {
    this.bytes += Math.ceil(size / PAGE_BYTES) * PAGE_BYTES;
    if (this.bytes > this.maxBytes) throw this.tooLarge();
  }

  tooLarge() {
    return refuse(`it unpacks to more than ${this.maxBytes} bytes, the limit of the action's /tmp.`);
  }

  directoryEntry(name) {
    const relative = this.count(name);
    if (relative) this.guard(() => fs.mkdirSync(path.join(this.directory, relative), { recursive: true }), name);
  }

  file(name, data, mode) {
    const relative = this.count(name);
    if (!relative) throw refuse(`the entry '${name}' has no file name.`);
    this.charge(data.length);
    const target = path.join(this.directory, relative);
    this.guard(() => {
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, data, { mode: mode & 0o111 ? 0o755 : 0o644 });
    }, name);
  }

  symlink(name, linkTarget) {
    const relative = this.count(name);
    if (!relative) throw refuse(`the entry '${name}' has no file name.`);
    if (linkTarget.includes('\0') || path.posix.isAbsolute(linkTarget) || /^[A-Za-z]:/.test(linkTarget) ||
        !inside(path.posix.join(path.posix.dirname(relative), linkTarget))) {
      throw refuse(`the symbolic link '${name}' points outside the action's directory.`);
    }
    this.symlinks.push({ name, create: () => {
      const target = path.join(this.directory, relative);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.symlinkSync(linkTarget, target);
    } });
  }

  hardlink(name, source) {
    const relative = this.count(name);
    const from = safePath(source);
    if (!relative || !from) throw refuse(`the link '${name}' has no file name.`);
    this.hardlinks.push({ name, create: () => {
      const existing = path.join(this.directory, from);
      if (!fs.lstatSync(existing).isFile()) throw refuse(`the link '${name}' does not point to a file.`);
      const target = path.join(this.directory, relative);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.linkSync(existing, target);
    } });
  }

  // Hard links first (they must find regular files), symbolic links last.
  finish() {
    for (const link of [...this.hardlinks, ...this.symlinks]) this.guard(link.create, link.name);
  }

  // Runs a file system step; its failure becomes a refusal naming the entry.
  guard(step, name) {
    try {
      step();
    } catch (err) {
      if (typeof err === 'string') throw err;
      if (err.code === 'ENOSPC') throw this.tooLarge();
      throw refuse(`the entry '${name}' cannot be written (${err.code || err.message}).`);
    }
  }
}

// The entry name as a path relative to the archive's root, '' for the root itself. Refuses names
// that are absolute or climb out with `..`.
function safePath(name) {
  const normalised = name.replace(/\\/g, '/');
  if (normalised.includes('\0') || normalised.startsWith('/') || /^[A-Za-z]:/.test(normalised)) {
    throw refuse(`the entry '${name}' has an absolute path.`);
  }
  const parts = normalised.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) throw refuse(`the entry '${name}' points outside the action's directory.`);
  return parts.join('/');
}

function inside(relative) {
  const normalised = path.posix.normalize(relative);
  return normalised !== '..' && !normalised.startsWith('../');
}

// ---------------------------------------------------------------------------------------------
// zip: the central directory, stored and deflated entries, zip64 sizes

const ZIP_LOCAL = 0x04034b50;
const ZIP_CENTRAL = 0x02014b50;
const ZIP_END = 0x06054b50;
const ZIP64_END = 0x06064b50;
const ZIP64_LOCATOR = 0x07064b50;
const UNIX = 3;
const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const S_IFDIR = 0o040000;

function corrupt(what) {
  return refuse(`it is not a valid zip file (${what}).`);
}

function zipEnd(data) {
  const lowest = Math.max(0, data.length - 22 - 0xffff);
  for (let at = data.length - 22; at >= lowest; at--) {
    if (data.readUInt32LE(at) !== ZIP_END) continue;
    let entries = data.readUInt16LE(at + 10);
    let offset = data.readUInt32LE(at + 16);
    if (entries === 0xffff || offset === 0xffffffff) {
      const locator = at - 20;
      if (locator < 0 || data.readUInt32LE(locator) !== ZIP64_LOCATOR) throw corrupt('no zip64 locator');
      const end = Number(data.readBigUInt64LE(locator + 8));
      if (end + 56 > data.length || data.readUInt32LE(end) !== ZIP64_END) throw corrupt('no zip64 end record');
      entries = Number(data.readBigUInt64LE(end + 32));
      offset = Number(data.readBigUInt64LE(end + 48));
    }
    return { entries, offset };
  }
  throw corrupt('no end of central directory');
}

// Sizes and offset from the zip64 extra field, for those the header marks 0xffffffff.
function zip64Values(extra, entry) {
  for (let at = 0; at + 4 <= extra.length;) {
    const id = extra.readUInt16LE(at);
    const size = extra.readUInt16LE(at + 2);
    if (id === 0x0001) {
      let field = at + 4;
      for (const key of ['size', 'compressedSize', 'offset']) {
        if (entry[key] !== 0xffffffff) continue;
        if (field + 8 > at + 4 + size) throw corrupt('short zip64 field');
        entry[key] = Number(extra.readBigUInt64LE(field));
        field += 8;
      }
      return;
    }
    at += 4 + size;
  }
}

function unzip(data, unpacker) {
  const end = zipEnd(data);
  if (end.entries > unpacker.maxEntries) throw refuse(`it has more than ${unpacker.maxEntries} entries.`);
  let at = end.offset;
  for (let index = 0; index < end.entries; index++) {
    if (at + 46 > data.length || data.readUInt32LE(at) !== ZIP_CENTRAL) throw corrupt('bad central directory');
    const madeBy = data.readUInt16LE(at + 4) >> 8;
    const flags = data.readUInt16LE(at + 8);
    const entry = {
      method: data.readUInt16LE(at + 10),
      crc: data.readUInt32LE(at + 16),
      compressedSize: data.readUInt32LE(at + 20),
      size: data.readUInt32LE(at + 24),
      offset: data.readUInt32LE(at + 42),
    };
    const nameLength = data.readUInt16LE(at + 28);
    const extraLength = data.readUInt16LE(at + 30);
    const commentLength = data.readUInt16LE(at + 32);
    const mode = data.readUInt32LE(at + 38) >>> 16;
    const name = data.toString(flags & 0x800 ? 'utf8' : 'latin1', at + 46, at + 46 + nameLength);
    zip64Values(data.subarray(at + 46 + nameLength, at + 46 + nameLength + extraLength), entry);
    at += 46 + nameLength + extraLength + commentLength;

    const type = madeBy === UNIX ? mode & S_IFMT : 0;
    if (name.endsWith('/') || type === S_IFDIR) {
      unpacker.directoryEntry(name);
      continue;
    }
    if (flags & 0x1) throw refuse(`the entry '${name}' is encrypted.`);
    const content = zipContent(data, entry, name, unpacker);
    if (type === S_IFLNK) unpacker.symlink(name, content.toString('utf8'));
    else unpacker.file(name, content, madeBy === UNIX ? mode : 0o644);
  }
  unpacker.finish();
}

function zipContent(data, entry, name, unpacker) {
  const local = entry.offset;
  if (local + 30 > data.length || data.readUInt32LE(local) !== ZIP_LOCAL) throw corrupt(`bad local header of '${name}'`);
  const start = local + 30 + data.readUInt16LE(local + 26) + data.readUInt16LE(local + 28);
  if (start + entry.compressedSize > data.length) throw corrupt(`'${name}' is cut short`);
  if (entry.size > unpacker.remaining()) throw unpacker.tooLarge();
  const packed = data.subarray(start, start + entry.compressedSize);
  let content;
  if (entry.method === 0) {
    content = packed;
  } else if (entry.method === 8) {
    try {
      content = zlib.inflateRawSync(packed, { maxOutputLength: Math.max(1, unpacker.remaining()) });
    } catch (err) {
      if (err.code === 'ERR_BUFFER_TOO_LARGE') throw unpacker.tooLarge();
      throw corrupt(`'${name}' does not inflate: ${err.message}`);
    }
  } else {
    throw refuse(`the entry '${name}' uses compression method ${entry.method}; only stored and deflated entries are supported.`);
  }
  if (content.length !== entry.size || (zlib.crc32 && zlib.crc32(content) !== entry.crc)) {
    throw corrupt(`'${name}' fails its size or CRC check`);
  }
  return content;
}

// ---------------------------------------------------------------------------------------------
// tar.gz: ustar, pax and GNU long names

const BLOCK = 512;

function octal(block, start, length) {
  if (block[start] & 0x80) { // GNU base-256 for large numbers
    let value = 0;
    for (let i = start + 1; i < start + length; i++) value = value * 256 + block[i];
    return value;
  }
  const text = block.toString('latin1', start, start + length).replace(/\0.*$/s, '').trim();
  return text === '' ? 0 : parseInt(text, 8);
}

function field(block, start, length) {
  return block.toString('utf8', start, start + length).replace(/\0.*$/s, '');
}

function validHeader(block) {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i];
  return sum === octal(block, 148, 8);
}

function paxRecords(data) {
  const records = {};
  const text = data.toString('utf8');
  for (let at = 0; at < text.length;) {
    const space = text.indexOf(' ', at);
    const length = parseInt(text.slice(at, space), 10);
    if (space < 0 || !(length > 0)) break;
    const record = text.slice(space + 1, at + length - 1);
    const equals = record.indexOf('=');
    if (equals > 0) records[record.slice(0, equals)] = record.slice(equals + 1);
    at += length;
  }
  return records;
}

function untar(compressed, unpacker) {
  let data;
  try {
    const headroom = BLOCK * 2 * (unpacker.maxEntries + 2); // headers and padding around the contents
    data = zlib.gunzipSync(compressed, { maxOutputLength: unpacker.maxBytes + headroom });
  } catch (err) {
    if (err.code === 'ERR_BUFFER_TOO_LARGE') throw unpacker.tooLarge();
    throw refuse(`it is not a valid gzip file (${err.message}).`);
  }
  let next = {}; // pax or GNU long-name values for the next entry
  for (let at = 0; at + BLOCK <= data.length;) {
    const block = data.subarray(at, at + BLOCK);
    if (block.every((byte) => byte === 0)) break;
    if (!validHeader(block)) throw refuse('it is not a valid tar file (bad header checksum).');
    const size = next.size !== undefined ? next.size : octal(block, 124, 12);
    const type = String.fromCharCode(block[156] || 0x30);
    const content = data.subarray(at + BLOCK, at + BLOCK + size);
    if (content.length !== size) throw refuse('it is not a valid tar file (cut short).');
    at += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
      if (type === 'x') next = { ...next, ...paxTarget(paxRecords(content)) };
      if (type === 'L') next.path = content.toString('utf8').replace(/\0.*$/s, '');
      if (type === 'K') next.linkpath = content.toString('utf8').replace(/\0.*$/s, '');
      continue;
    }
    const prefix = block.toString('latin1', 257, 262) === 'ustar' ? field(block, 345, 155) : '';
    const name = next.path || (prefix ? `${prefix}/${field(block, 0, 100)}` : field(block, 0, 100));
    const linkTarget = next.linkpath || field(block, 157, 100);
    next = {};
    if (type === '0' || type === '7') unpacker.file(name, content, octal(block, 100, 8));
    else if (type === '5') unpacker.directoryEntry(name);
    else if (type === '2') unpacker.symlink(name, linkTarget);
    else if (type === '1') unpacker.hardlink(name, linkTarget);
    else throw refuse(`the entry '${name}' is a device or special file (tar type '${type}').`);
  }
  unpacker.finish();
}

function paxTarget(records) {
  const values = {};
  if (records.path) values.path = records.path;
  if (records.linkpath) values.linkpath = records.linkpath;
  if (records.size !== undefined) values.size = parseInt(records.size, 10);
  return values;
}

// ---------------------------------------------------------------------------------------------

// Unpacks the base64 `code` into the empty `directory`. `limits.maxBytes` (default 48 MiB, never
// more than the file system's free space less a reserve) bounds the contents, counted in whole
// pages; `limits.maxEntries` (default 20000) the number of entries.
function unpack(code, directory, limits = {}) {
  const data = Buffer.from(code, 'base64');
  const kind = kindOf(data);
  if (kind === undefined) throw `${FAILED}. The file type is unsupported.`;
  let maxBytes = Number.isSafeInteger(limits.maxBytes) && limits.maxBytes > 0 ? limits.maxBytes : DEFAULT_MAX_BYTES;
  try {
    const space = fs.statfsSync(directory);
    maxBytes = Math.max(0, Math.min(maxBytes, space.bavail * space.bsize - FREE_SPACE_RESERVE_BYTES));
  } catch {} // the write itself reports a full file system
  const maxEntries = Number.isSafeInteger(limits.maxEntries) && limits.maxEntries > 0 ? limits.maxEntries : DEFAULT_MAX_ENTRIES;
  const unpacker = new Unpacker(directory, { maxBytes, maxEntries });
  if (kind === 'zip') unzip(data, unpacker);
  else untar(data, unpacker);
}

module.exports = { unpack };
