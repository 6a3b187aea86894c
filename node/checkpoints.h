// Cosigned checkpoints: what each node serves as the log's signed head.
//
// A validator signs the C2SP checkpoint body "<chain_id>\n<size>\n<root>\n"
// of a head only after it is durably applied, and gossips the signature.
// Every node verifies the signatures it receives against the validator set,
// collects them per (size, root), and serves the largest checkpoint that q
// validators signed and that matches a head it applied itself. The served
// checkpoint never shrinks. Two validly signed roots for one size are
// evidence of equivocation: logged and counted, never served.
//
// Mostly only the signatures a checkpoint needs are verified: a served note
// carries q of them. A peer's signature for a size beyond our durable head
// (peers often commit a block a moment before we do) is held unchecked
// until our head reaches that size; then as many as the quorum needs are
// verified, and any for another root (evidence) all of them. At most two
// are held per signer and size, and one that does not fit beside them is
// checked at once, so forged ones never keep out a real one. Nothing
// unchecked is ever served, counted towards a quorum or taken as evidence;
// a signer's third root for one size is not kept.
// Not thread-safe: owned by the consensus strand (copies are handed out).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "crypto/ed25519.h"
#include "crypto/note.h"
#include "node/proto/node.pb.h"

namespace prov::node {

class Checkpoints {
 public:
  struct Member {
    std::string name;
    PublicKey key;
  };
  // `self` signs when this node is a validator (nullopt for observers).
  static Result<Checkpoints> create(std::string chain_id, const std::vector<Member>& validators,
                                    std::optional<crypto::KeyPair> self);

  // Our head (size, root) is durable: remember it and, as a validator with
  // `sign`, sign it. Returns the signature to gossip, if any.
  std::optional<v1::CheckpointSignature> on_durable_head(uint64_t size, const Hash256& root, bool sign = true);
  // A signature gossiped by a peer: checks it and records it, or holds it
  // unchecked for a size beyond our head (see above). kUnauthenticated for an
  // unknown signer or a signature that fails when checked here; one held and
  // failing later counts in bad_signatures().
  Status add(const v1::CheckpointSignature& sig);

  // A note served before a restart (kept in the data dir): served again if
  // it is this chain's checkpoint of (size, root), a head this node holds,
  // with at least q valid validator signatures. kVerificationFailed if not;
  // nothing changes then.
  Status restore(std::string_view note, uint64_t size, const Hash256& root);

  // The served note (≥ q signatures), or nullopt before the first.
  const std::optional<std::string>& note() const { return note_; }
  uint64_t served_size() const { return served_size_; }
  uint64_t equivocations() const { return equivocations_; }
  // Peers' signatures verified, and held ones that failed when checked later.
  uint64_t verified() const { return verified_; }
  uint64_t bad_signatures() const { return bad_signatures_; }
  // The checkpoint body text for (size, root) on this chain.
  std::string body(uint64_t size, const Hash256& root) const;

 private:
  Checkpoints() = default;
  // A peer's signature whose form and signer were checked, not its bytes.
  struct Unchecked {
    Hash256 root;
    size_t index = 0;
    Bytes ed;  // the 64-byte Ed25519 signature
  };
  void try_serve(uint64_t size, const Hash256& root);
  // Verifies a signature and records it if good; false if bad.
  bool check_and_record(uint64_t size, const Unchecked& u);
  // root -> validator index -> signature line, for one size
  using RootSignatures = std::map<Hash256, std::map<size_t, crypto::note::NoteSignature>>;
  // Signatures for (size, root) recorded so far.
  size_t count(uint64_t size, const Hash256& root) const;
  // Roots other than `root` that validator `index` signed among `roots`.
  static size_t other_roots_signed(const RootSignatures& roots, size_t index, const Hash256& root);
  // Files a checked (or own) signature line and serves what it completes.
  void record(uint64_t size, const Hash256& root, size_t index, crypto::note::NoteSignature line);
  // Our head reached `size`: checks what was held for it and for the sizes
  // below (those only if they disagree: evidence).
  void settle_held(uint64_t size, const Hash256& root);

  std::string chain_id_;
  std::vector<crypto::note::NoteVerifier> verifiers_;
  std::optional<crypto::note::NoteSigner> signer_;
  size_t self_index_ = 0;  // this validator's index, when signer_ is set
  size_t quorum_ = 0;
  std::map<uint64_t, Hash256> heads_;  // sizes we applied -> our root (recent ones)
  std::map<uint64_t, RootSignatures> sigs_;  // size -> its signatures
  // size -> peers' signatures for sizes beyond our head, not checked yet
  std::map<uint64_t, std::vector<Unchecked>> held_;
  std::optional<std::string> note_;
  uint64_t served_size_ = 0;
  uint64_t equivocations_ = 0;
  uint64_t verified_ = 0;
  uint64_t bad_signatures_ = 0;
};

}  // namespace prov::node
