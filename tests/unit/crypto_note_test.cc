// C2SP signed notes, tlog-checkpoints and tlog-proofs: known answers from
// golang.org/x/mod/sumdb/note (interoperability), round trips, and every
// kind of malformed input.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "crypto/encoding.h"
#include "crypto/merkle.h"
#include "crypto/note.h"
#include "crypto/sha256.h"

using namespace prov;
using namespace prov::crypto;
using namespace prov::crypto::note;

namespace {

// The example of golang.org/x/mod/sumdb/note's package documentation.
constexpr std::string_view kPeterVkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
// Base64 of 0x01 ‖ Ed25519 seed, from its signer key
// "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz".
constexpr std::string_view kPeterSecret = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
constexpr std::string_view kEnochVkey = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
constexpr std::string_view kText =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n";
constexpr std::string_view kPeterLine =
    "\xE2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
constexpr std::string_view kEnochLine =
    "\xE2\x80\x94 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

std::string peter_note() { return std::string(kText) + "\n" + std::string(kPeterLine); }

KeyPair key_from_seed_byte(uint8_t b) {
  Seed seed;
  seed.bytes.fill(b);
  return KeyPair::from_seed(seed);
}

std::vector<NoteSigner> three_signers() {
  std::vector<NoteSigner> out;
  const char* names[] = {"validator-1.example", "validator-2.example", "validator-3.example"};
  for (int i = 0; i < 3; ++i) out.push_back(NoteSigner::create(names[i], key_from_seed_byte(uint8_t(i + 1))).value());
  return out;
}

std::vector<NoteVerifier> verifiers_of(const std::vector<NoteSigner>& signers) {
  std::vector<NoteVerifier> out;
  for (const auto& s : signers) out.push_back(s.verifier());
  return out;
}

Checkpoint sample_checkpoint(uint64_t size, const Hash256& root) {
  Checkpoint cp;
  cp.origin = "prov-localnet";
  cp.size = size;
  cp.root = root;
  return cp;
}

}  // namespace

TEST_CASE("note: Go sumdb/note known answer (vkey, key ID, signature bytes)") {
  auto v = NoteVerifier::parse(kPeterVkey);
  REQUIRE(v.is_ok());
  CHECK(v->name() == "PeterNeumann");
  CHECK(v->key_id() == 0xc74f20a3u);
  CHECK(v->vkey() == kPeterVkey);
  CHECK(ed25519_key_id("PeterNeumann", v->public_key()) == 0xc74f20a3u);

  auto secret = base64_decode(kPeterSecret);
  REQUIRE(secret.is_ok());
  REQUIRE(secret->size() == 33);
  CHECK((*secret)[0] == kAlgEd25519);
  auto signer = NoteSigner::create("PeterNeumann", KeyPair::from_seed(Seed::from(ByteView(*secret).subspan(1))));
  REQUIRE(signer.is_ok());
  CHECK(signer->verifier().vkey() == kPeterVkey);
  // Ed25519 is deterministic: we must reproduce Go's note byte for byte.
  std::vector<NoteSigner> signers{*signer};
  auto msg = sign_note(kText, signers);
  REQUIRE(msg.is_ok());
  CHECK(*msg == peter_note());

  std::vector<NoteVerifier> known{*v};
  auto opened = open_note(peter_note(), known);
  REQUIRE(opened.is_ok());
  CHECK(opened->text == kText);
  REQUIRE(opened->signatures.size() == 1);
  CHECK(opened->signatures[0].key_id == 0xc74f20a3u);
}

TEST_CASE("note: Go's doubly-signed example verifies under both keys") {
  const std::string msg = peter_note() + std::string(kEnochLine);
  std::vector<NoteVerifier> both{NoteVerifier::parse(kPeterVkey).value(), NoteVerifier::parse(kEnochVkey).value()};
  auto signers = verify_note(parse_note(msg).value(), both);
  REQUIRE(signers.is_ok());
  CHECK(*signers == std::vector<size_t>{0, 1});
  // Only Enoch known: Peter's line is ignored, Enoch's verifies.
  std::vector<NoteVerifier> enoch{both[1]};
  CHECK(count_valid_signatures(msg, enoch).value() == 1);
  // Nobody known: the note parses but can not be opened.
  CHECK(count_valid_signatures(msg, {}).value() == 0);
  CHECK(open_note(msg, {}).status().code() == StatusCode::kUnauthenticated);
}

TEST_CASE("note: tampered text or signature is rejected by a known key") {
  std::vector<NoteVerifier> known{NoteVerifier::parse(kPeterVkey).value()};
  std::string msg = peter_note();
  msg[3] = 'Y';
  CHECK(open_note(msg, known).status().code() == StatusCode::kUnauthenticated);
  msg = peter_note();
  const size_t sig_at = msg.find("x08go");
  msg[sig_at + 10] = (msg[sig_at + 10] == 'A') ? 'B' : 'A';
  CHECK(open_note(msg, known).status().code() == StatusCode::kUnauthenticated);
}

TEST_CASE("note: three signers, reordered and duplicated lines") {
  const auto signers = three_signers();
  const auto known = verifiers_of(signers);
  const std::string text = "prov-localnet\n42\n" + base64_encode(merkle::empty_root()) + "\n";
  auto msg = sign_note(text, signers);
  REQUIRE(msg.is_ok());
  auto note = parse_note(*msg);
  REQUIRE(note.is_ok());
  REQUIRE(note->signatures.size() == 3);
  CHECK(*verify_note(*note, known) == std::vector<size_t>{0, 1, 2});
  CHECK(format_note(*note).value() == *msg);

  Note reordered = *note;
  std::swap(reordered.signatures[0], reordered.signatures[2]);
  CHECK(verify_note(reordered, known).value() == std::vector<size_t>{0, 1, 2});

  Note duplicated = *note;
  duplicated.signatures.push_back(note->signatures[1]);
  duplicated.signatures.push_back(note->signatures[1]);
  const std::string dup_msg = format_note(duplicated).value();
  CHECK(count_valid_signatures(dup_msg, known).value() == 3);  // counted once each

  // A second line for a known key that does not verify spoils the note,
  // even though the first line from that key was good.
  Note bad_dup = *note;
  bad_dup.signatures.push_back(note->signatures[0]);
  bad_dup.signatures.back().signature[5] ^= 1;
  CHECK(verify_note(bad_dup, known).status().code() == StatusCode::kUnauthenticated);

  // Two signers' lines only: the third verifier is simply absent.
  Note partial = *note;
  partial.signatures.erase(partial.signatures.begin() + 1);
  CHECK(verify_note(partial, known).value() == std::vector<size_t>{0, 2});
}

TEST_CASE("note: unknown (name, key ID) pairs are ignored, not trusted") {
  const auto signers = three_signers();
  const auto known = verifiers_of(signers);
  const std::string text = "hello\n";
  Note note;
  note.text = text;
  note.signatures.push_back(signers[0].sign(text).value());
  // Same name, wrong key ID: another key of that name, unknown to us.
  NoteSignature wrong_id = note.signatures[0];
  wrong_id.key_id ^= 1;
  // Right key ID, other name.
  NoteSignature wrong_name = note.signatures[0];
  wrong_name.name = "impostor";
  Note only_unknown{text, {wrong_id, wrong_name}};
  CHECK(verify_note(only_unknown, known).value().empty());
  CHECK(open_note(format_note(only_unknown).value(), known).status().code() == StatusCode::kUnauthenticated);
  note.signatures.push_back(wrong_id);
  note.signatures.push_back(wrong_name);
  CHECK(verify_note(note, known).value() == std::vector<size_t>{0});
  // A key signing under a name it is not registered under is not that name.
  auto other = NoteSigner::create("validator-2.example", key_from_seed_byte(9)).value();
  Note forged{text, {other.sign(text).value()}};
  CHECK(verify_note(forged, known).value().empty());
}

TEST_CASE("note: ambiguous verifier sets are refused") {
  const auto signers = three_signers();
  std::vector<NoteVerifier> known{signers[0].verifier(), signers[0].verifier()};
  Note note{"x\n", {signers[0].sign("x\n").value()}};
  CHECK(verify_note(note, known).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("note: vkey parsing rejects every mangling") {
  CHECK(NoteVerifier::parse(kPeterVkey).is_ok());
  const std::string vkey(kPeterVkey);
  // Every proper substring, as in Go's TestNewVerifier.
  for (size_t i = 0; i <= vkey.size(); ++i) {
    for (size_t j = i + 1; j <= vkey.size(); ++j) {
      if (i == 0 && j == vkey.size()) continue;
      CHECK_MESSAGE(!NoteVerifier::parse(vkey.substr(i, j - i)).is_ok(), vkey.substr(i, j - i));
    }
  }
  // Every single-byte change.
  for (size_t i = 0; i < vkey.size(); ++i) {
    std::string bad = vkey;
    bad[i] = static_cast<char>(bad[i] + 1);
    CHECK_MESSAGE(!NoteVerifier::parse(bad).is_ok(), bad);
  }
  CHECK_FALSE(NoteVerifier::parse("PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW").is_ok());
  // Algorithm byte 0x02 with a key ID that matches it is still not Ed25519.
  Bytes typed{0x02};
  append(typed, Bytes(32, 7));
  Bytes id_input = to_bytes("x\n");
  append(id_input, typed);
  const Hash256 id = sha256(id_input);
  const std::string other_alg = "x+" + hex_encode(ByteView(id).subspan(0, 4)) + "+" + base64_encode(typed);
  CHECK(NoteVerifier::parse(other_alg).status().message().find("algorithm") != std::string::npos);
  CHECK_FALSE(NoteVerifier::parse("").is_ok());
  CHECK_FALSE(NoteVerifier::create("bad name", PublicKey{}).is_ok());
  CHECK_FALSE(NoteVerifier::create("bad+name", PublicKey{}).is_ok());
  CHECK_FALSE(NoteVerifier::create("", PublicKey{}).is_ok());
  CHECK_FALSE(NoteVerifier::create(std::string(kMaxKeyNameBytes + 1, 'a'), PublicKey{}).is_ok());
  CHECK(NoteVerifier::create(std::string(kMaxKeyNameBytes, 'a'), PublicKey{}).is_ok());
}

TEST_CASE("note: key names follow Go's rules (no Unicode spaces, no plus)") {
  CHECK(is_valid_key_name("example.com/log42"));
  CHECK(is_valid_key_name("\xC3\xA9t\xC3\xA9"));                  // "été"
  CHECK_FALSE(is_valid_key_name("a\xC2\xA0" "b"));                  // U+00A0
  CHECK_FALSE(is_valid_key_name("a\xE2\x80\x83" "b"));              // U+2003
  CHECK_FALSE(is_valid_key_name("a\xE3\x80\x80" "b"));              // U+3000
  CHECK_FALSE(is_valid_key_name("a\tb"));
  CHECK_FALSE(is_valid_key_name("a+b"));
  CHECK_FALSE(is_valid_key_name("\xFF"));
}

TEST_CASE("note: malformed notes are rejected") {
  const std::string good = peter_note();
  REQUIRE(parse_note(good).is_ok());
  const std::string sig_b64 = "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=";
  const std::string dash = "\xE2\x80\x94 ";
  const std::vector<std::string> bad = {
      "",
      "\n",
      "\n\n",
      good.substr(0, good.size() - 1),                                  // no final newline
      std::string(kText) + std::string(kPeterLine),                     // no blank line
      std::string(kText) + "\n",                                        // no signatures
      std::string(kText) + "\n- PeterNeumann " + sig_b64 + "\n",       // hyphen, not em dash
      std::string(kText) + "\n\xE2\x80\x94PeterNeumann " + sig_b64 + "\n",  // no space after dash
      std::string(kText) + "\n" + dash + "PeterNeumann\n",              // no signature
      std::string(kText) + "\n" + dash + "PeterNeumann \n",             // empty signature
      std::string(kText) + "\n" + dash + " " + sig_b64 + "\n",          // empty name
      std::string(kText) + "\n" + dash + "Peter+Neumann " + sig_b64 + "\n",
      std::string(kText) + "\n" + dash + "PeterNeumann " + sig_b64 + " \n",  // trailing space
      std::string(kText) + "\n" + dash + "PeterNeumann " + sig_b64.substr(0, sig_b64.size() - 1) + "\n",
      std::string(kText) + "\n" + dash + "PeterNeumann x08gow==\n",     // 4 bytes: key ID only
      std::string(kText) + "\n" + dash + "PeterNeumann x08go/Z=\n",     // non-canonical base64
      std::string(kText) + "\n" + std::string(kPeterLine) + "\n",       // blank line after signatures
      std::string(kText) + "\n" + std::string(kPeterLine) + "trailing",
      "tab\there\n\n" + std::string(kPeterLine),                        // control character
      "cr\r\n\n" + std::string(kPeterLine),
      std::string("nul\0x\n\n", 8) + std::string(kPeterLine),
      "bad \xFF utf8\n\n" + std::string(kPeterLine),
      "overlong \xC0\x80\n\n" + std::string(kPeterLine),
      "surrogate \xED\xA0\x80\n\n" + std::string(kPeterLine),
      "truncated \xE2\x80\n\n" + std::string(kPeterLine),
      "too high \xF4\x90\x80\x80\n\n" + std::string(kPeterLine),
  };
  for (const auto& m : bad) CHECK_MESSAGE(!parse_note(m).is_ok(), m);
  // The text may itself contain blank lines: the last one separates.
  auto multi = parse_note("a\n\nb\n\n" + std::string(kPeterLine));
  REQUIRE(multi.is_ok());
  CHECK(multi->text == "a\n\nb\n");
}

TEST_CASE("note: bounds on signatures and size") {
  const auto signers = three_signers();
  Note note{"x\n", {}};
  const NoteSignature sig = signers[0].sign("x\n").value();
  for (size_t i = 0; i < kMaxSignatures; ++i) note.signatures.push_back(sig);
  auto msg = format_note(note);
  REQUIRE(msg.is_ok());
  CHECK(parse_note(*msg).is_ok());
  CHECK(parse_note(*msg + std::string(kPeterLine)).status().code() == StatusCode::kResourceExhausted);
  note.signatures.push_back(sig);
  CHECK_FALSE(format_note(note).is_ok());

  const std::string big_text(kMaxNoteBytes, 'a');
  CHECK(parse_note(big_text + "\n\n" + std::string(kPeterLine)).status().code() == StatusCode::kResourceExhausted);
  CHECK_FALSE(signers[0].sign(big_text + "\n").is_ok());
  CHECK_FALSE(signers[0].sign("no newline").is_ok());
  CHECK_FALSE(signers[0].sign("").is_ok());
  CHECK_FALSE(format_note(Note{"x\n", {NoteSignature{"n", 1, {}}}}).is_ok());
  CHECK_FALSE(format_note(Note{"x\n", {NoteSignature{"n", 1, Bytes(kMaxSignatureBytes + 1)}}}).is_ok());
}

TEST_CASE("note: byte flips of a valid note never crash and never verify") {
  std::vector<NoteVerifier> known{NoteVerifier::parse(kPeterVkey).value()};
  const std::string good = peter_note();
  std::mt19937 rng(7);
  int opened = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string m = good;
    const int flips = 1 + static_cast<int>(rng() % 3);
    for (int f = 0; f < flips; ++f) m[rng() % m.size()] ^= static_cast<char>(1 << (rng() % 8));
    if (m == good) continue;
    if (open_note(m, known).is_ok()) ++opened;
  }
  CHECK(opened == 0);
}

TEST_CASE("checkpoint: round trip and the C2SP example") {
  const std::string example = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
  auto cp = parse_checkpoint(example);
  REQUIRE(cp.is_ok());
  CHECK(cp->origin == "example.com/behind-the-sofa");
  CHECK(cp->size == 20852163);
  CHECK(cp->extensions.empty());
  CHECK(format_checkpoint(*cp).value() == example);

  Checkpoint with_ext = sample_checkpoint(0, merkle::empty_root());
  with_ext.extensions = {"ext one", "— two"};
  const std::string text = format_checkpoint(with_ext).value();
  CHECK(text == "prov-localnet\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n" "ext one\n— two\n");
  CHECK(parse_checkpoint(text).value() == with_ext);

  Checkpoint max = sample_checkpoint(~uint64_t{0}, merkle::empty_root());
  CHECK(parse_checkpoint(format_checkpoint(max).value()).value().size == ~uint64_t{0});
}

TEST_CASE("checkpoint: malformed bodies are rejected") {
  const std::string root = "\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n";
  CHECK(parse_checkpoint("o\n5" + root).is_ok());
  const std::vector<std::string> bad = {
      "",
      "o\n5\n",
      "\n5" + root,                                             // empty origin
      "o\n05" + root,                                           // leading zero
      "o\n00" + root,
      "o\n-1" + root,
      "o\n+1" + root,
      "o\n 5" + root,
      "o\n5 " + root,
      "o\n0x5" + root,
      "o\n18446744073709551616" + root,                         // 2^64
      "o\n99999999999999999999" + root,
      "o\n\n" + root.substr(1),                                 // empty size
      "o\n5\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuF=\n",    // 31 bytes-ish / bad
      "o\n5\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=\n",   // non-canonical padding bits
      "o\n5\n47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=\n",   // URL alphabet
      "o\n5\n" + base64_encode(Bytes(31)) + "\n",
      "o\n5\n" + base64_encode(Bytes(33)) + "\n",
      "o\n5" + root + "\n",                                     // empty extension line
      "o\n5" + root + "ext",                                    // no final newline
      "o\n5" + root.substr(0, root.size() - 1),
      "o\t\n5" + root,                                          // control character
  };
  for (const auto& t : bad) CHECK_MESSAGE(!parse_checkpoint(t).is_ok(), t);
  std::string many = "o\n5" + root;
  for (size_t i = 0; i <= kMaxCheckpointExtensions; ++i) many += "e\n";
  CHECK(parse_checkpoint(many).status().code() == StatusCode::kResourceExhausted);

  Checkpoint cp = sample_checkpoint(1, merkle::empty_root());
  cp.origin = "";
  CHECK_FALSE(format_checkpoint(cp).is_ok());
  cp.origin = "two\nlines";
  CHECK_FALSE(format_checkpoint(cp).is_ok());
  cp.origin = "o";
  cp.extensions = {""};
  CHECK_FALSE(format_checkpoint(cp).is_ok());
  cp.extensions = {"a\nb"};
  CHECK_FALSE(format_checkpoint(cp).is_ok());
}

namespace {

// A log of `n` entries, a cosigned checkpoint, and a proof for `index`.
struct ProofFixture {
  merkle::MemoryTree tree;
  std::vector<NoteSigner> signers = three_signers();
  std::string signed_checkpoint;

  explicit ProofFixture(uint64_t n) {
    for (uint64_t i = 0; i < n; ++i) tree.append(as_bytes("entry " + std::to_string(i)));
    const std::string text = format_checkpoint(sample_checkpoint(n, tree.root())).value();
    signed_checkpoint = sign_note(text, signers).value();
  }
  TlogProof proof(uint64_t index) const {
    TlogProof p;
    p.index = index;
    p.path = tree.inclusion_proof(index, tree.size());
    p.signed_checkpoint = signed_checkpoint;
    return p;
  }
};

}  // namespace

TEST_CASE("tlog-proof: round trip, inclusion and signatures") {
  ProofFixture fx(1000);
  TlogProof p = fx.proof(737);
  p.extra = to_bytes("entry 737");
  auto text = format_tlog_proof(p);
  REQUIRE(text.is_ok());
  CHECK(text->substr(0, 23) == "c2sp.org/tlog-proof@v1\n");
  CHECK(text->find("\nextra ZW50cnkgNzM3\nindex 737\n") != std::string::npos);
  auto parsed = parse_tlog_proof(*text);
  REQUIRE(parsed.is_ok());
  CHECK(*parsed == p);
  CHECK(parsed->path.size() == 10);

  auto cp = verify_tlog_proof_inclusion(*parsed, merkle::hash_leaf(*parsed->extra));
  REQUIRE(cp.is_ok());
  CHECK(cp->size == 1000);
  CHECK(verify_tlog_proof_inclusion(*parsed, merkle::hash_leaf(as_bytes("entry 736"))).status().code() ==
        StatusCode::kVerificationFailed);
  const auto known = verifiers_of(fx.signers);
  CHECK(count_valid_signatures(parsed->signed_checkpoint, known).value() == 3);

  // Without extra, and with an empty extra (which is not the same thing).
  TlogProof q = fx.proof(0);
  CHECK(parse_tlog_proof(format_tlog_proof(q).value()).value() == q);
  q.extra = Bytes{};
  const std::string with_empty = format_tlog_proof(q).value();
  CHECK(with_empty.find("\nextra \nindex 0\n") != std::string::npos);
  CHECK(parse_tlog_proof(with_empty).value() == q);

  // A one-entry log has an empty path: the blank line follows the index.
  ProofFixture one(1);
  const TlogProof single = one.proof(0);
  const std::string single_text = format_tlog_proof(single).value();
  CHECK(single_text.find("index 0\n\n") != std::string::npos);
  CHECK(parse_tlog_proof(single_text).value() == single);
}

TEST_CASE("tlog-proof: malformed proofs are rejected") {
  ProofFixture fx(20);
  const std::string good = format_tlog_proof(fx.proof(5)).value();
  REQUIRE(parse_tlog_proof(good).is_ok());
  const size_t index_at = good.find("index 5\n");
  const std::string head = good.substr(0, index_at);
  const std::string after_index = good.substr(index_at + 8);
  const std::string h0 = base64_encode(fx.proof(5).path[0]);
  auto with_index = [&](const std::string& line) { return head + line + "\n" + after_index; };

  const std::vector<std::string> bad = {
      "",
      "c2sp.org/tlog-proof@v2\n" + good.substr(23),
      "C2SP.org/tlog-proof@v1\n" + good.substr(23),
      good.substr(23),                                       // no header
      with_index("index 05"),
      with_index("index -5"),
      with_index("index  5"),
      with_index("index 5 "),
      with_index("index"),
      with_index("index 20"),                                // == checkpoint size
      with_index("index 18446744073709551616"),
      with_index("Index 5"),
      head + "extra !!!\nindex 5\n" + after_index,            // bad base64
      head + "extra\nindex 5\n" + after_index,                // no space
      head + "index 5\nextra ZW50cnk=\n" + after_index,      // extra after index
      head + "index 5\n" + h0.substr(1) + "\n" + after_index, // bad hash line
      head + "index 5\n" + base64_encode(Bytes(31)) + "\n" + after_index,
      head + "index 5\n" + h0 + " \n" + after_index,
      head + "index 5\n" + h0 + "\n",                         // no blank line, no checkpoint
      head + "index 5\n" + h0,                                // truncated
      good.substr(0, good.size() - 1),                        // note without final newline
      good + "x",
      good + "\n",
      head + "index 5\n" + after_index.substr(0, after_index.find("\n\n") + 2) + "not a note\n",
  };
  for (const auto& t : bad) CHECK_MESSAGE(!parse_tlog_proof(t).is_ok(), t);

  // Bounds: 65 path hashes, and extra beyond 1 MiB, are refused both ways.
  TlogProof p = fx.proof(5);
  p.path.assign(kMaxProofHashes + 1, p.path[0]);
  CHECK(format_tlog_proof(p).status().code() == StatusCode::kResourceExhausted);
  std::string long_path = head + "index 5\n";
  for (size_t i = 0; i <= kMaxProofHashes; ++i) long_path += h0 + "\n";
  long_path += "\n" + fx.signed_checkpoint;
  CHECK(parse_tlog_proof(long_path).status().code() == StatusCode::kResourceExhausted);
  p = fx.proof(5);
  p.extra = Bytes(kMaxProofExtraBytes + 1);
  CHECK(format_tlog_proof(p).status().code() == StatusCode::kResourceExhausted);
  p.extra = Bytes(kMaxProofExtraBytes);
  auto big = format_tlog_proof(p);
  REQUIRE(big.is_ok());
  CHECK(parse_tlog_proof(*big).is_ok());
  const std::string too_big = head + "extra " + base64_encode(Bytes(kMaxProofExtraBytes + 3)) + "\n" +
                              good.substr(index_at);
  CHECK(parse_tlog_proof(too_big).status().code() == StatusCode::kResourceExhausted);

  // A checkpoint that is not a signed note, or whose body is not a checkpoint.
  p = fx.proof(5);
  p.signed_checkpoint = "prov-localnet\n20\nAAAA\n";
  CHECK_FALSE(format_tlog_proof(p).is_ok());
  p.signed_checkpoint = sign_note("not a checkpoint\n", fx.signers).value();
  CHECK_FALSE(format_tlog_proof(p).is_ok());
}
