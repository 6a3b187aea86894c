// C2SP signed notes (https://c2sp.org/signed-note) with Ed25519, and the two
// formats built on them: tlog-checkpoint (https://c2sp.org/tlog-checkpoint)
// and tlog-proof (https://c2sp.org/tlog-proof).
//
// A note is text ending in a newline, a blank line, and one or more lines
// "— <key name> base64(key ID ‖ signature)". Ed25519 note signatures cover
// the text exactly as written, with no domain separation: that is what the
// spec says and what other verifiers (Go's golang.org/x/mod/sumdb/note)
// check. Our own domain-separated messages begin with 0x00, which no note
// text may contain, so the two kinds of signature can not be confused.
//
// Parsers are strict, bounded, and never trust their input: anything not
// produced by the matching formatter is rejected with kInvalidArgument (or
// kResourceExhausted when a bound is hit), a bad signature from a known key
// with kUnauthenticated. Whatever a formatter emits, its parser accepts.
// Pure functions and immutable value types; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/ed25519.h"
#include "crypto/status.h"

namespace prov::crypto::note {

inline constexpr uint8_t kAlgEd25519 = 0x01;
// Signature lines per note. The spec requires accepting at least 16; Go's
// verifier stops at 100.
inline constexpr size_t kMaxSignatures = 100;
// Whole signed note, text and signatures.
inline constexpr size_t kMaxNoteBytes = 256 * 1024;
inline constexpr size_t kMaxKeyNameBytes = 256;
// Raw signature bytes after the key ID (room for post-quantum schemes).
inline constexpr size_t kMaxSignatureBytes = 8 * 1024;
inline constexpr size_t kMaxCheckpointExtensions = 16;
inline constexpr size_t kMaxProofHashes = 64;
inline constexpr size_t kMaxProofExtraBytes = 1024 * 1024;
inline constexpr size_t kMaxTlogProofBytes = 2 * 1024 * 1024;
inline constexpr std::string_view kTlogProofHeader = "c2sp.org/tlog-proof@v1";

// 32-bit key ID, big-endian first four bytes of
// SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key) for Ed25519.
using KeyId = uint32_t;

// True iff `name` is a valid key name: non-empty, at most kMaxKeyNameBytes,
// valid UTF-8, no Unicode space, no '+'.
bool is_valid_key_name(std::string_view name);
// True iff `text` is a valid note text: non-empty, ends in '\n', valid
// UTF-8, no ASCII control character other than '\n', within bounds.
bool is_valid_note_text(std::string_view text);
// The Ed25519 key ID of (name, key).
KeyId ed25519_key_id(std::string_view name, const PublicKey& key);

// One signature line of a note; `signature` excludes the 4-byte key ID.
struct NoteSignature {
  std::string name;
  KeyId key_id = 0;
  Bytes signature;

  friend bool operator==(const NoteSignature&, const NoteSignature&) = default;
};

// A note as written: `text` includes its final newline, `signatures` are in
// the order of their lines, verified or not.
struct Note {
  std::string text;
  std::vector<NoteSignature> signatures;
};

// Splits a signed note into text and signature lines, checking only syntax
// and bounds (not signatures). Fails with kInvalidArgument.
Result<Note> parse_note(std::string_view msg);
// The signed-note bytes of `note`; fails if the text or any signature line
// is invalid, or there is no signature.
Result<std::string> format_note(const Note& note);

// Knows one Ed25519 key by name; verifies its signatures over note texts.
class NoteVerifier {
 public:
  // From a vkey "name+<8 hex key ID>+base64(0x01 ‖ public key)"; checks the
  // name, the algorithm, the key length and that the key ID matches.
  static Result<NoteVerifier> parse(std::string_view vkey);
  // For a known key; fails only on an invalid name.
  static Result<NoteVerifier> create(std::string_view name, const PublicKey& key);

  const std::string& name() const { return name_; }
  KeyId key_id() const { return key_id_; }
  const PublicKey& public_key() const { return key_; }
  // The vkey string that parse() accepts.
  std::string vkey() const;
  // True iff `signature` is this key's Ed25519 signature of `text`.
  bool verify(std::string_view text, ByteView signature) const;

 private:
  NoteVerifier() = default;
  std::string name_;
  KeyId key_id_ = 0;
  PublicKey key_;
};

// Signs note texts under a key name.
class NoteSigner {
 public:
  // Fails only on an invalid name.
  static Result<NoteSigner> create(std::string_view name, const KeyPair& key);

  const std::string& name() const { return name_; }
  KeyId key_id() const { return key_id_; }
  NoteVerifier verifier() const;
  // This key's signature line for `text`; fails if the text is not a
  // valid note text.
  Result<NoteSignature> sign(std::string_view text) const;

 private:
  NoteSigner(std::string name, KeyId key_id, const KeyPair& key) : name_(std::move(name)), key_id_(key_id), key_(key) {}
  std::string name_;
  KeyId key_id_ = 0;
  KeyPair key_;
};

// `text` signed by every signer, as signed-note bytes.
Result<std::string> sign_note(std::string_view text, std::span<const NoteSigner> signers);

// Checks the signatures of `note` against `known` and returns the indexes
// (into `known`, ascending) of the verifiers that signed validly, each once.
// Signature lines whose (name, key ID) no verifier knows are ignored, as the
// spec requires. A known key's line that does not verify fails the whole
// note with kUnauthenticated; two verifiers with the same (name, key ID) are
// kInvalidArgument. An empty result is not an error: callers apply their
// own threshold.
Result<std::vector<size_t>> verify_note(const Note& note, std::span<const NoteVerifier> known);
// parse_note + verify_note, failing with kUnauthenticated unless at least
// one known verifier signed (the spec's rule for opening a note).
Result<Note> open_note(std::string_view msg, std::span<const NoteVerifier> known);
// Number of distinct known verifiers with a valid signature on the note.
Result<size_t> count_valid_signatures(std::string_view msg, std::span<const NoteVerifier> known);

// The body of a tlog-checkpoint note.
struct Checkpoint {
  std::string origin;
  uint64_t size = 0;
  Hash256 root;
  std::vector<std::string> extensions;  // opaque non-empty lines, no '\n'

  friend bool operator==(const Checkpoint&, const Checkpoint&) = default;
};

// Parses a checkpoint note text "<origin>\n<size>\n<base64 root>\n[ext\n]*";
// the size is decimal without leading zeros.
Result<Checkpoint> parse_checkpoint(std::string_view text);
// The note text of `checkpoint`; fails on an empty origin, a line with a
// newline or control character, an empty extension line or too many.
Result<std::string> format_checkpoint(const Checkpoint& checkpoint);

// A tlog-proof: an inclusion proof bundled with the signed checkpoint it
// proves against. `signed_checkpoint` is the note exactly as received, so
// its signatures stay verifiable (bytes-envelope rule).
struct TlogProof {
  std::optional<Bytes> extra;  // opaque, unauthenticated
  uint64_t index = 0;
  std::vector<Hash256> path;   // leaf's sibling first
  std::string signed_checkpoint;

  friend bool operator==(const TlogProof&, const TlogProof&) = default;
};

// Parses a tlog-proof, including the syntax of its note and checkpoint
// (not their signatures) and index < checkpoint size.
Result<TlogProof> parse_tlog_proof(std::string_view text);
// The tlog-proof bytes of `proof`; fails if any part is out of bounds or
// the checkpoint is not a well-formed signed checkpoint note.
Result<std::string> format_tlog_proof(const TlogProof& proof);

// Verifies that leaf_hash is leaf `proof.index` of the tree the proof's
// checkpoint commits to, and returns that checkpoint. Signatures on the
// checkpoint are the caller's business (verify_note with its policy).
Result<Checkpoint> verify_tlog_proof_inclusion(const TlogProof& proof, const Hash256& leaf_hash);

}  // namespace prov::crypto::note
