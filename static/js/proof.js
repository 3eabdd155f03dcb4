// The proof of work a login needs while its email is under attack (many
// failed logins in 15 minutes): a nonce that makes
// SHA-256("<challenge>:<hex SHA-256 of the password>:<nonce>") start with
// `difficulty` zero bits. The server says how many (at most 18: 262,144
// hashes expected, half a second or so here); it checks the proof with one hash,
// and the proof covers the password, so a guesser pays this for every guess.
//
// SHA-256 is written out here rather than taken from crypto.subtle, whose
// digests are promises: at about 80,000 a second (Node 20) they would make
// the owner wait six times as long as this (about 500,000 a second). The prefix's whole blocks are hashed once; each
// nonce costs the last one or two blocks.

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const INITIAL = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
const W = new Uint32Array(64);

/** Hashes the 64-byte block of `bytes` at `offset` into `state` (8 words). */
function compress(state, bytes, offset) {
  for (let i = 0; i < 16; i++) {
    const j = offset + i * 4;
    W[i] = (bytes[j] << 24) | (bytes[j + 1] << 16) | (bytes[j + 2] << 8) | bytes[j + 3];
  }
  for (let i = 16; i < 64; i++) {
    const a = W[i - 15];
    const b = W[i - 2];
    const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
    const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
    W[i] = (W[i - 16] + s0 + W[i - 7] + s1) | 0;
  }
  let [a, b, c, d, e, f, g, h] = state;
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[i] + W[i]) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g; g = f; f = e; e = (d + t1) | 0;
    d = c; c = b; b = a; a = (t1 + t2) | 0;
  }
  state[0] = (state[0] + a) | 0; state[1] = (state[1] + b) | 0;
  state[2] = (state[2] + c) | 0; state[3] = (state[3] + d) | 0;
  state[4] = (state[4] + e) | 0; state[5] = (state[5] + f) | 0;
  state[6] = (state[6] + g) | 0; state[7] = (state[7] + h) | 0;
}

/**
 * A hasher of `prefix` + anything: the prefix's whole blocks are hashed
 * once; `digest(tail)` answers the 8 words of SHA-256(prefix + tail).
 */
export function hasherOf(prefix) {
  const whole = prefix.length - (prefix.length % 64);
  const mid = Int32Array.from(INITIAL);
  for (let offset = 0; offset < whole; offset += 64) compress(mid, prefix, offset);
  const rest = prefix.subarray(whole);
  const buffer = new Uint8Array(256);
  const state = new Int32Array(8);
  return (tail) => {
    const length = rest.length + tail.length;
    const blocks = length + 9 > 64 ? 2 : 1;
    buffer.fill(0, 0, blocks * 64);
    buffer.set(rest, 0);
    buffer.set(tail, rest.length);
    buffer[length] = 0x80;
    const bits = (prefix.length + tail.length) * 8;
    const end = blocks * 64;
    buffer[end - 4] = bits >>> 24;
    buffer[end - 3] = bits >>> 16;
    buffer[end - 2] = bits >>> 8;
    buffer[end - 1] = bits;
    state.set(mid);
    for (let b = 0; b < blocks; b++) compress(state, buffer, b * 64);
    return state;
  };
}

/** SHA-256 of bytes, as 32 bytes. */
export function sha256(bytes) {
  const words = hasherOf(bytes)(new Uint8Array(0));
  const out = new Uint8Array(32);
  words.forEach((w, i) => {
    out[i * 4] = w >>> 24;
    out[i * 4 + 1] = w >>> 16;
    out[i * 4 + 2] = w >>> 8;
    out[i * 4 + 3] = w;
  });
  return out;
}

/** Leading zero bits of a digest given as 32-bit words. */
export function zeroBits(words) {
  let bits = 0;
  for (const w of words) {
    if (w === 0) {
      bits += 32;
      continue;
    }
    return bits + Math.clz32(w);
  }
  return bits;
}

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

const DIGITS = new Uint8Array(16);

/** The nonce's decimal digits as bytes (a view of a shared buffer). */
function digits(n) {
  let i = DIGITS.length;
  let rest = n;
  do {
    DIGITS[--i] = 48 + (rest % 10);
    rest = Math.floor(rest / 10);
  } while (rest > 0);
  return DIGITS.subarray(i);
}

/**
 * The `proof` for a login with `password`, given the `challenge`
 * ({token, difficulty}) of the server's last answer. Hashes in slices,
 * letting the page breathe (its spinner turn) between them.
 */
export async function solve(challenge, password, slice = 20000) {
  const encoder = new TextEncoder();
  const secret = hex(sha256(encoder.encode(password)));
  const digest = hasherOf(encoder.encode(`${challenge.token}:${secret}:`));
  for (let start = 0; ; start += slice) {
    for (let n = start; n < start + slice; n++) {
      if (zeroBits(digest(digits(n))) >= challenge.difficulty) {
        return { challenge: challenge.token, nonce: String(n) };
      }
    }
    await new Promise((resolve) => { setTimeout(resolve, 0); });
  }
}
