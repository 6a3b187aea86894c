#include "node/checkpoints.h"

#include <iostream>

#include "crypto/encoding.h"
#include "ledger/registry.h"

namespace prov::node {
namespace {

// Bounds on what gossip can make us hold.
constexpr size_t kMaxPendingSizes = 1024;
constexpr size_t kMaxHeadsKept = 1024;
constexpr size_t kNoteSignatureBytes = 4 + 64;

}  // namespace

Result<Checkpoints> Checkpoints::create(std::string chain_id, const std::vector<Member>& validators,
                                        std::optional<crypto::KeyPair> self) {
  Checkpoints c;
  c.chain_id_ = std::move(chain_id);
  for (const Member& m : validators) {
    PROV_ASSIGN_OR_RETURN(auto v, crypto::note::NoteVerifier::create(m.name, m.key));
    c.verifiers_.push_back(std::move(v));
    if (self && self->public_key() == m.key) {
      PROV_ASSIGN_OR_RETURN(auto s, crypto::note::NoteSigner::create(m.name, *self));
      c.signer_ = std::move(s);
      c.self_index_ = c.verifiers_.size() - 1;
    }
  }
  c.quorum_ = ledger::quorum_size(validators.size());
  return c;
}

std::string Checkpoints::body(uint64_t size, const Hash256& root) const {
  return chain_id_ + "\n" + std::to_string(size) + "\n" + crypto::base64_encode(root) + "\n";
}

std::optional<v1::CheckpointSignature> Checkpoints::on_durable_head(uint64_t size, const Hash256& root, bool sign) {
  heads_[size] = root;
  while (heads_.size() > kMaxHeadsKept) heads_.erase(heads_.begin());
  std::optional<v1::CheckpointSignature> out;
  if (signer_ && sign) {
    auto line = signer_->sign(body(size, root));
    if (line) {
      v1::CheckpointSignature sig;
      sig.set_size(size);
      sig.set_root(to_string(root));
      for (const auto& v : verifiers_) {
        if (v.name() == signer_->name()) sig.set_signer(to_string(v.public_key()));
      }
      Bytes raw;
      put_u32_be(raw, line->key_id);
      append(raw, line->signature);
      sig.set_signature(to_string(raw));
      // Signed here: recorded without checking it (add() verifies peers').
      record(size, root, self_index_, *line);
      out = std::move(sig);
    }
  }
  settle_held(size, root);
  try_serve(size, root);
  return out;
}

Status Checkpoints::restore(std::string_view text, uint64_t size, const Hash256& root) {
  auto note = crypto::note::parse_note(text);
  if (!note) return Status::verification_failed("kept checkpoint: " + note.status().message());
  if (note->text != body(size, root))
    return Status::verification_failed("kept checkpoint is not this chain's checkpoint of the log at size " +
                                       std::to_string(size));
  auto signers = crypto::note::verify_note(*note, verifiers_);
  if (!signers) return Status::verification_failed("kept checkpoint: " + signers.status().message());
  if (signers->size() < quorum_)
    return Status::verification_failed("kept checkpoint has " + std::to_string(signers->size()) +
                                       " valid validator signatures, fewer than the quorum of " +
                                       std::to_string(quorum_));
  heads_[size] = root;
  if (size > served_size_) {
    note_ = std::string(text);
    served_size_ = size;
  }
  return Status::ok();
}

Status Checkpoints::add(const v1::CheckpointSignature& sig) {
  Hash256 root;
  if (!root.assign(as_bytes(sig.root())) || sig.signature().size() != kNoteSignatureBytes) {
    return Status::invalid_argument("malformed checkpoint signature");
  }
  const uint64_t size = sig.size();
  auto head = heads_.find(size);
  // At or below the served size only another root than ours is news (evidence).
  if (size <= served_size_ && (head == heads_.end() || head->second == root)) return Status::ok();
  size_t index = verifiers_.size();
  for (size_t i = 0; i < verifiers_.size(); ++i) {
    if (to_string(verifiers_[i].public_key()) == sig.signer()) index = i;
  }
  if (index == verifiers_.size()) return Status::unauthenticated("checkpoint signer is not a validator");
  const auto& v = verifiers_[index];
  const uint8_t* raw = reinterpret_cast<const uint8_t*>(sig.signature().data());
  if (get_u32_be(raw) != v.key_id()) return Status::unauthenticated("checkpoint signature key id mismatch");
  if (auto by_size = sigs_.find(size); by_size != sigs_.end()) {
    auto by_root = by_size->second.find(root);
    if (by_root != by_size->second.end() && by_root->second.count(index)) return Status::ok();  // have it
    if (other_roots_signed(by_size->second, index, root) >= 2) return Status::ok();  // see record()
  }
  Unchecked u{root, index, Bytes(raw + 4, raw + kNoteSignatureBytes)};
  if (head != heads_.end()) {
    // Our own root at this size needs no more than a quorum; another root
    // is checked whatever it costs: if good, it is evidence.
    if (head->second == root && count(size, root) >= quorum_) return Status::ok();
  } else if (heads_.empty() || size > heads_.rbegin()->first) {
    auto held = held_.find(size);
    if (held == held_.end()) {
      if (held_.size() >= kMaxPendingSizes) {
        // Full: keep the sizes nearest our head, which come due first.
        if (size > held_.rbegin()->first) return Status::ok();
        held_.erase(std::prev(held_.end()));
      }
      held = held_.emplace(size, std::vector<Unchecked>{}).first;
    }
    // At most two held per signer and size (two roots are enough to show
    // it equivocated), so no signer's crowd out another's. Whoever sent
    // them, unchecked ones never keep out a signature: an exact repeat adds
    // nothing, but one that does not fit (other bytes for a held root, or a
    // third root) is checked at once, so a forger filling a signer's slots
    // gains nothing.
    size_t from_signer = 0;
    bool fits = true;
    for (const Unchecked& h : held->second) {
      if (h.index != index) continue;
      if (h.root == root) {
        if (h.ed == u.ed) return Status::ok();
        fits = false;
      }
      ++from_signer;
    }
    if (fits && from_signer < 2) {
      held->second.push_back(std::move(u));
      return Status::ok();
    }
  }
  if (!check_and_record(size, u)) return Status::unauthenticated("bad checkpoint signature");
  return Status::ok();
}

bool Checkpoints::check_and_record(uint64_t size, const Unchecked& u) {
  const auto& v = verifiers_[u.index];
  ++verified_;
  if (!v.verify(body(size, u.root), u.ed)) return false;
  record(size, u.root, u.index, crypto::note::NoteSignature{v.name(), v.key_id(), u.ed});
  return true;
}

size_t Checkpoints::other_roots_signed(const RootSignatures& roots, size_t index, const Hash256& root) {
  size_t n = 0;
  for (const auto& [r, by_index] : roots) n += r != root && by_index.count(index) ? 1 : 0;
  return n;
}

size_t Checkpoints::count(uint64_t size, const Hash256& root) const {
  auto by_size = sigs_.find(size);
  if (by_size == sigs_.end()) return 0;
  auto by_root = by_size->second.find(root);
  return by_root == by_size->second.end() ? 0 : by_root->second.size();
}

void Checkpoints::settle_held(uint64_t size, const Hash256& root) {
  auto end = held_.upper_bound(size);
  for (auto it = held_.begin(); it != end; ++it) {
    const uint64_t at = it->first;
    bool disagree = false;
    for (const Unchecked& u : it->second) disagree |= u.root != it->second.front().root;
    for (const Unchecked& u : it->second) {
      // Below our head only disagreement matters (evidence); at it, our own
      // root up to the quorum, and any other root.
      bool needed =
          at == size ? (u.root != root || (served_size_ < size && count(size, root) < quorum_)) : disagree;
      if (needed && !check_and_record(at, u)) ++bad_signatures_;
    }
  }
  held_.erase(held_.begin(), end);
}

void Checkpoints::record(uint64_t size, const Hash256& root, size_t index, crypto::note::NoteSignature line) {
  if (!sigs_.count(size) && sigs_.size() >= kMaxPendingSizes) sigs_.erase(sigs_.begin());
  auto& roots = sigs_[size];
  // Two roots of one signer prove it equivocated; more add nothing, and
  // are not kept (a faulty validator can sign any number).
  if (other_roots_signed(roots, index, root) >= 2) return;
  // Distinct roots for this size: those signed, and the one we applied.
  auto head = heads_.find(size);
  const bool had_head = head != heads_.end();
  const size_t before = roots.size() + (had_head && !roots.count(head->second) ? 1 : 0);
  const bool new_root = !roots.count(root) && !(had_head && head->second == root);
  roots[root][index] = std::move(line);
  // Counted once per size, when it first has two; each new root is logged.
  if (new_root && before >= 1) {
    if (before == 1) ++equivocations_;
    std::cerr << "evidence: checkpoints of size " << size << " with " << before + 1
              << " different roots were signed (latest signer " << verifiers_[index].name() << ")\n";
  }
  try_serve(size, root);
}

void Checkpoints::try_serve(uint64_t size, const Hash256& root) {
  if (size <= served_size_) return;
  auto head = heads_.find(size);
  if (head == heads_.end() || head->second != root) return;  // not a head we applied ourselves
  auto by_size = sigs_.find(size);
  if (by_size == sigs_.end() || by_size->second.size() != 1) return;  // none, or equivocation
  auto by_root = by_size->second.find(root);
  if (by_root == by_size->second.end() || by_root->second.size() < quorum_) return;
  crypto::note::Note note;
  note.text = body(size, root);
  for (auto& [index, line] : by_root->second) note.signatures.push_back(line);
  auto text = crypto::note::format_note(note);
  if (!text) return;
  note_ = std::move(*text);
  served_size_ = size;
  sigs_.erase(sigs_.begin(), sigs_.upper_bound(size));
}

}  // namespace prov::node
