// C2SP signed notes, checkpoints and tlog-proofs. The parsing rules follow
// the specs and golang.org/x/mod/sumdb/note's Open (the de-facto reference),
// tightened where that is free: canonical base64 only, lower-case key IDs,
// explicit bounds on every count and length.
#include "crypto/note.h"

#include <algorithm>
#include <utility>

#include "crypto/encoding.h"
#include "crypto/merkle.h"
#include "crypto/sha256.h"

namespace prov::crypto::note {

namespace {

constexpr std::string_view kSigPrefix = "\xE2\x80\x94 ";  // U+2014 EM DASH, space
constexpr std::string_view kExtraPrefix = "extra ";
constexpr std::string_view kIndexPrefix = "index ";
constexpr size_t kMaxDecimalDigits = 20;  // 2^64 - 1 has 20 digits

// Decodes one UTF-8 scalar value at s[i]; returns its length, or 0 if the
// bytes there are not well-formed UTF-8 (overlong forms, surrogates and
// values above U+10FFFF included).
size_t decode_utf8(std::string_view s, size_t i, uint32_t& cp) {
  const auto b = [&](size_t k) { return static_cast<uint8_t>(s[i + k]); };
  const size_t left = s.size() - i;
  const uint8_t c = b(0);
  if (c < 0x80) {
    cp = c;
    return 1;
  }
  size_t len;
  uint8_t lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    cp = c & 0x0F;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    cp = c & 0x07;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (left < len) return 0;
  for (size_t k = 1; k < len; ++k) {
    const uint8_t cont = b(k);
    if (cont < (k == 1 ? lo : 0x80) || cont > (k == 1 ? hi : 0xBF)) return 0;
    cp = (cp << 6) | (cont & 0x3F);
  }
  return len;
}

// Go's unicode.IsSpace: the Unicode White_Space property.
bool is_unicode_space(uint32_t cp) {
  switch (cp) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20:
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029:
    case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

// Valid UTF-8 without ASCII control characters, except '\n' if allowed.
bool is_clean_text(std::string_view s, bool allow_newline) {
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = 0;
    const size_t len = decode_utf8(s, i, cp);
    if (len == 0) return false;
    if (cp < 0x20 && !(allow_newline && cp == '\n')) return false;
    i += len;
  }
  return true;
}

// Strict decimal: digits only, no sign, no leading zero (except "0"), fits.
std::optional<uint64_t> parse_decimal(std::string_view s) {
  if (s.empty() || s.size() > kMaxDecimalDigits) return std::nullopt;
  if (s.size() > 1 && s[0] == '0') return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (~uint64_t{0} - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

// Takes the next '\n'-terminated line (without the '\n') from `rest`.
std::optional<std::string_view> take_line(std::string_view& rest) {
  const size_t nl = rest.find('\n');
  if (nl == std::string_view::npos) return std::nullopt;
  std::string_view line = rest.substr(0, nl);
  rest.remove_prefix(nl + 1);
  return line;
}

std::string key_label(std::string_view name, KeyId id) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(name);
  out += '+';
  for (int shift = 28; shift >= 0; shift -= 4) out += kHex[(id >> shift) & 0xF];
  return out;
}

Result<NoteSignature> parse_signature_line(std::string_view line) {
  if (line.substr(0, kSigPrefix.size()) != kSigPrefix) {
    return Status::invalid_argument("signature line does not start with an em dash and a space");
  }
  line.remove_prefix(kSigPrefix.size());
  const size_t space = line.find(' ');
  if (space == std::string_view::npos) return Status::invalid_argument("signature line has no signature");
  const std::string_view name = line.substr(0, space);
  if (!is_valid_key_name(name)) return Status::invalid_argument("invalid key name in signature line");
  auto raw = base64_decode(line.substr(space + 1));
  if (!raw) return Status::invalid_argument("signature is not canonical base64");
  if (raw->size() < 5) return Status::invalid_argument("signature shorter than a key ID and one byte");
  if (raw->size() > 4 + kMaxSignatureBytes) return Status::resource_exhausted("signature too long");
  NoteSignature sig;
  sig.name = std::string(name);
  sig.key_id = get_u32_be(raw->data());
  sig.signature.assign(raw->begin() + 4, raw->end());
  return sig;
}

Status check_signature(const NoteSignature& sig) {
  if (!is_valid_key_name(sig.name)) return Status::invalid_argument("invalid key name '" + sig.name + "'");
  if (sig.signature.empty()) return Status::invalid_argument("empty signature");
  if (sig.signature.size() > kMaxSignatureBytes) return Status::resource_exhausted("signature too long");
  return Status::ok();
}

// A checkpoint line: non-empty, one line, no control characters.
bool is_valid_line(std::string_view line) { return !line.empty() && is_clean_text(line, false); }

}  // namespace

bool is_valid_key_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxKeyNameBytes) return false;
  for (size_t i = 0; i < name.size();) {
    uint32_t cp = 0;
    const size_t len = decode_utf8(name, i, cp);
    if (len == 0 || cp == '+' || is_unicode_space(cp)) return false;
    i += len;
  }
  return true;
}

bool is_valid_note_text(std::string_view text) {
  return !text.empty() && text.size() <= kMaxNoteBytes && text.back() == '\n' && is_clean_text(text, true);
}

KeyId ed25519_key_id(std::string_view name, const PublicKey& key) {
  Sha256 h;
  h.update(as_bytes(name));
  const uint8_t sep[2] = {'\n', kAlgEd25519};
  h.update(ByteView{sep, 2});
  h.update(key);
  return get_u32_be(h.finish().data());
}

Result<Note> parse_note(std::string_view msg) {
  if (msg.size() > kMaxNoteBytes) return Status::resource_exhausted("note larger than the limit");
  if (!is_clean_text(msg, true)) {
    return Status::invalid_argument("note is not UTF-8 text without control characters");
  }
  // The text ends at the last blank line; signature lines are never blank.
  const size_t split = msg.rfind("\n\n");
  if (split == std::string_view::npos) return Status::invalid_argument("note has no blank line before signatures");
  Note note;
  note.text = std::string(msg.substr(0, split + 1));
  std::string_view sigs = msg.substr(split + 2);
  if (sigs.empty()) return Status::invalid_argument("note has no signature lines");
  if (sigs.back() != '\n') return Status::invalid_argument("note does not end with a newline");
  while (!sigs.empty()) {
    if (note.signatures.size() == kMaxSignatures) return Status::resource_exhausted("too many signature lines");
    const std::string_view line = *take_line(sigs);  // sigs ends in '\n'
    PROV_ASSIGN_OR_RETURN(NoteSignature sig, parse_signature_line(line));
    note.signatures.push_back(std::move(sig));
  }
  return note;
}

Result<std::string> format_note(const Note& note) {
  if (!is_valid_note_text(note.text)) return Status::invalid_argument("invalid note text");
  if (note.signatures.empty()) return Status::invalid_argument("a signed note needs a signature");
  if (note.signatures.size() > kMaxSignatures) return Status::resource_exhausted("too many signatures");
  std::string out = note.text;
  out += '\n';
  for (const auto& sig : note.signatures) {
    PROV_RETURN_IF_ERROR(check_signature(sig));
    Bytes raw;
    put_u32_be(raw, sig.key_id);
    append(raw, sig.signature);
    out += kSigPrefix;
    out += sig.name;
    out += ' ';
    out += base64_encode(raw);
    out += '\n';
  }
  if (out.size() > kMaxNoteBytes) return Status::resource_exhausted("note larger than the limit");
  return out;
}

Result<NoteVerifier> NoteVerifier::parse(std::string_view vkey) {
  const size_t p1 = vkey.find('+');
  if (p1 == std::string_view::npos) return Status::invalid_argument("vkey has no '+'");
  const size_t p2 = vkey.find('+', p1 + 1);
  if (p2 == std::string_view::npos) return Status::invalid_argument("vkey has no key ID");
  const std::string_view name = vkey.substr(0, p1), id_hex = vkey.substr(p1 + 1, p2 - p1 - 1);
  if (!is_valid_key_name(name)) return Status::invalid_argument("invalid key name in vkey");
  if (id_hex.size() != 8 || !std::all_of(id_hex.begin(), id_hex.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
      })) {
    return Status::invalid_argument("vkey key ID is not 8 lower-case hex digits");
  }
  auto key = base64_decode(vkey.substr(p2 + 1));
  if (!key) return Status::invalid_argument("vkey key is not canonical base64");
  if (key->empty() || (*key)[0] != kAlgEd25519) return Status::invalid_argument("vkey algorithm is not Ed25519");
  if (key->size() != 1 + PublicKey::kSize) return Status::invalid_argument("vkey Ed25519 key is not 32 bytes");
  PROV_ASSIGN_OR_RETURN(NoteVerifier v, create(name, PublicKey::from(ByteView(*key).subspan(1))));
  if (key_label(name, v.key_id_) != vkey.substr(0, p2)) {
    return Status::invalid_argument("vkey key ID does not match the name and key");
  }
  return v;
}

Result<NoteVerifier> NoteVerifier::create(std::string_view name, const PublicKey& key) {
  if (!is_valid_key_name(name)) return Status::invalid_argument("invalid key name");
  NoteVerifier v;
  v.name_ = std::string(name);
  v.key_ = key;
  v.key_id_ = ed25519_key_id(name, key);
  return v;
}

std::string NoteVerifier::vkey() const {
  Bytes raw{kAlgEd25519};
  append(raw, key_.view());
  return key_label(name_, key_id_) + "+" + base64_encode(raw);
}

bool NoteVerifier::verify(std::string_view text, ByteView signature) const {
  Signature sig;
  if (!sig.assign(signature)) return false;
  return verify_raw(key_, as_bytes(text), sig);
}

Result<NoteSigner> NoteSigner::create(std::string_view name, const KeyPair& key) {
  if (!is_valid_key_name(name)) return Status::invalid_argument("invalid key name");
  return NoteSigner(std::string(name), ed25519_key_id(name, key.public_key()), key);
}

NoteVerifier NoteSigner::verifier() const { return NoteVerifier::create(name_, key_.public_key()).value(); }

Result<NoteSignature> NoteSigner::sign(std::string_view text) const {
  if (!is_valid_note_text(text)) return Status::invalid_argument("invalid note text");
  const Signature sig = key_.sign_raw(as_bytes(text));
  return NoteSignature{name_, key_id_, Bytes(sig.bytes.begin(), sig.bytes.end())};
}

Result<std::string> sign_note(std::string_view text, std::span<const NoteSigner> signers) {
  Note note;
  note.text = std::string(text);
  for (const auto& s : signers) {
    PROV_ASSIGN_OR_RETURN(NoteSignature sig, s.sign(text));
    note.signatures.push_back(std::move(sig));
  }
  return format_note(note);
}

Result<std::vector<size_t>> verify_note(const Note& note, std::span<const NoteVerifier> known) {
  for (size_t i = 0; i < known.size(); ++i) {
    for (size_t j = i + 1; j < known.size(); ++j) {
      if (known[i].name() == known[j].name() && known[i].key_id() == known[j].key_id()) {
        return Status::invalid_argument("ambiguous verifiers for " + key_label(known[i].name(), known[i].key_id()));
      }
    }
  }
  std::vector<bool> signed_by(known.size(), false);
  for (const auto& sig : note.signatures) {
    const auto it = std::find_if(known.begin(), known.end(), [&](const NoteVerifier& v) {
      return v.key_id() == sig.key_id && v.name() == sig.name;
    });
    if (it == known.end()) continue;  // unknown keys are ignored (spec)
    // Every line of a known key is checked, duplicates included, so a note
    // never carries a bad signature that a lenient reader would skip.
    if (!it->verify(note.text, sig.signature)) {
      return Status::unauthenticated("invalid signature for key " + key_label(sig.name, sig.key_id));
    }
    signed_by[static_cast<size_t>(it - known.begin())] = true;
  }
  std::vector<size_t> out;
  for (size_t i = 0; i < signed_by.size(); ++i) {
    if (signed_by[i]) out.push_back(i);
  }
  return out;
}

Result<Note> open_note(std::string_view msg, std::span<const NoteVerifier> known) {
  PROV_ASSIGN_OR_RETURN(Note note, parse_note(msg));
  PROV_ASSIGN_OR_RETURN(std::vector<size_t> signers, verify_note(note, known));
  if (signers.empty()) return Status::unauthenticated("note has no valid signature from a known key");
  return note;
}

Result<size_t> count_valid_signatures(std::string_view msg, std::span<const NoteVerifier> known) {
  PROV_ASSIGN_OR_RETURN(Note note, parse_note(msg));
  PROV_ASSIGN_OR_RETURN(std::vector<size_t> signers, verify_note(note, known));
  return signers.size();
}

Result<Checkpoint> parse_checkpoint(std::string_view text) {
  if (!is_valid_note_text(text)) return Status::invalid_argument("checkpoint is not a valid note text");
  std::string_view rest = text;
  const auto origin = take_line(rest), size = take_line(rest), root = take_line(rest);
  if (!origin || !size || !root) return Status::invalid_argument("checkpoint has fewer than three lines");
  Checkpoint cp;
  if (origin->empty()) return Status::invalid_argument("checkpoint origin is empty");
  cp.origin = std::string(*origin);
  const auto n = parse_decimal(*size);
  if (!n) return Status::invalid_argument("checkpoint size is not a canonical decimal");
  cp.size = *n;
  auto r = base64_decode_fixed<Hash256>(*root);
  if (!r) return Status::invalid_argument("checkpoint root is not 32 bytes of base64");
  cp.root = *r;
  while (!rest.empty()) {
    if (cp.extensions.size() == kMaxCheckpointExtensions) {
      return Status::resource_exhausted("too many checkpoint extension lines");
    }
    const std::string_view line = *take_line(rest);  // text ends in '\n'
    if (line.empty()) return Status::invalid_argument("empty checkpoint extension line");
    cp.extensions.emplace_back(line);
  }
  return cp;
}

Result<std::string> format_checkpoint(const Checkpoint& cp) {
  if (!is_valid_line(cp.origin)) return Status::invalid_argument("checkpoint origin is empty or not one line");
  if (cp.extensions.size() > kMaxCheckpointExtensions) {
    return Status::resource_exhausted("too many checkpoint extension lines");
  }
  std::string out = cp.origin + "\n" + std::to_string(cp.size) + "\n" + base64_encode(cp.root) + "\n";
  for (const auto& ext : cp.extensions) {
    if (!is_valid_line(ext)) return Status::invalid_argument("checkpoint extension is empty or not one line");
    out += ext;
    out += '\n';
  }
  if (out.size() > kMaxNoteBytes) return Status::resource_exhausted("checkpoint larger than the limit");
  return out;
}

Result<TlogProof> parse_tlog_proof(std::string_view text) {
  if (text.size() > kMaxTlogProofBytes) return Status::resource_exhausted("tlog-proof larger than the limit");
  std::string_view rest = text;
  auto line = take_line(rest);
  if (!line || *line != kTlogProofHeader) return Status::invalid_argument("missing c2sp.org/tlog-proof@v1 header");
  TlogProof proof;
  line = take_line(rest);
  if (line && line->substr(0, kExtraPrefix.size()) == kExtraPrefix) {
    const std::string_view b64 = line->substr(kExtraPrefix.size());
    // Checked before decoding, so an oversized line costs no allocation.
    if (b64.size() > (kMaxProofExtraBytes + 2) / 3 * 4) return Status::resource_exhausted("extra data too large");
    auto extra = base64_decode(b64);
    if (!extra) return Status::invalid_argument("extra data is not canonical base64");
    proof.extra = std::move(*extra);
    line = take_line(rest);
  }
  if (!line || line->substr(0, kIndexPrefix.size()) != kIndexPrefix) {
    return Status::invalid_argument("missing index line");
  }
  const auto index = parse_decimal(line->substr(kIndexPrefix.size()));
  if (!index) return Status::invalid_argument("index is not a canonical decimal");
  proof.index = *index;
  for (;;) {
    line = take_line(rest);
    if (!line) return Status::invalid_argument("missing blank line before the checkpoint");
    if (line->empty()) break;
    if (proof.path.size() == kMaxProofHashes) return Status::resource_exhausted("inclusion proof too long");
    auto h = base64_decode_fixed<Hash256>(*line);
    if (!h) return Status::invalid_argument("inclusion proof line is not 32 bytes of base64");
    proof.path.push_back(*h);
  }
  PROV_ASSIGN_OR_RETURN(Note note, parse_note(rest));
  PROV_ASSIGN_OR_RETURN(Checkpoint cp, parse_checkpoint(note.text));
  if (proof.index >= cp.size) return Status::invalid_argument("index is not below the checkpoint's size");
  proof.signed_checkpoint = std::string(rest);
  return proof;
}

Result<std::string> format_tlog_proof(const TlogProof& proof) {
  if (proof.extra && proof.extra->size() > kMaxProofExtraBytes) {
    return Status::resource_exhausted("extra data too large");
  }
  if (proof.path.size() > kMaxProofHashes) return Status::resource_exhausted("inclusion proof too long");
  std::string out(kTlogProofHeader);
  out += '\n';
  if (proof.extra) out += std::string(kExtraPrefix) + base64_encode(*proof.extra) + "\n";
  out += std::string(kIndexPrefix) + std::to_string(proof.index) + "\n";
  for (const auto& h : proof.path) out += base64_encode(h) + "\n";
  out += '\n';
  out += proof.signed_checkpoint;
  // Parsing the result applies every rule once, in one place, and
  // guarantees that whatever we emit we also accept.
  PROV_RETURN_IF_ERROR(parse_tlog_proof(out).status());
  return out;
}

Result<Checkpoint> verify_tlog_proof_inclusion(const TlogProof& proof, const Hash256& leaf_hash) {
  PROV_ASSIGN_OR_RETURN(Note note, parse_note(proof.signed_checkpoint));
  PROV_ASSIGN_OR_RETURN(Checkpoint cp, parse_checkpoint(note.text));
  PROV_RETURN_IF_ERROR(merkle::verify_inclusion(leaf_hash, proof.index, cp.size, proof.path, cp.root));
  return cp;
}

}  // namespace prov::crypto::note
