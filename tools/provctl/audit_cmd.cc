// provctl audit: a light-client check of the chain (docs/cli.md). For every
// block in the range it checks, with nothing but the genesis:
//   - the commit proof (consensus::verify_commit_proof against the genesis
//     validator set: a quorum certified the block's child at round + 1),
//   - the header: chain id, height, epoch 0 and the genesis validator-set
//     hash, the parent hash link, non-decreasing time,
//   - the payload root over the block's transactions,
//   - the log: size grows by exactly the block's transactions, and each new
//     log root is consistent (RFC 9162) with the previous one,
// and finally that the last header's log is a prefix of the current
// quorum-signed checkpoint. Epoch changes are not followed yet: a block of a
// later epoch fails with a message saying so.
#include <iostream>
#include <memory>

#include "consensus/certificates.h"
#include "crypto/encoding.h"
#include "crypto/merkle.h"
#include "crypto/note.h"
#include "ledger/registry.h"
#include "ledger/tx.h"
#include "node/api/api.pb.h"
#include "tools/provctl/common.h"
#include "tools/provctl/verified.h"

namespace prov::provctl {
namespace {

namespace api = node::api::v1;

// A block beyond this is not read: a block's bytes are bounded by consensus
// params, which cap at this.
constexpr size_t kMaxBlockBytes = 64u << 20;

struct AuditOptions {
  uint64_t from = 1;
  uint64_t to = 0;  // 0: the head
  PassphraseOptions passphrase;
};

// What the previous verified header said.
struct Prev {
  uint64_t height = 0;
  Hash256 id;                // zeros before block 1
  uint64_t log_size = 0;
  Hash256 log_root;
  int64_t time_ms = 0;
};

struct Tally {
  uint64_t blocks = 0;
  uint64_t txs = 0;
  uint64_t consistency_proofs = 0;
};

Result<std::vector<Hash256>> hex_path(const google::protobuf::RepeatedPtrField<std::string>& in) {
  std::vector<Hash256> out;
  if (static_cast<size_t>(in.size()) > crypto::note::kMaxProofHashes)
    return Status::verification_failed("consistency proof has too many hashes");
  for (const auto& h : in) {
    auto d = crypto::hex_decode_fixed<Hash256>(h);
    if (!d) return Status::verification_failed("consistency proof holds a malformed hash");
    out.push_back(*d);
  }
  return out;
}

// Proves the log (old_size, old_root) is a prefix of (new_size, new_root).
Status prove_grew(NodeClient& client, uint64_t old_size, const Hash256& old_root, uint64_t new_size,
                  const Hash256& new_root, Tally* t) {
  if (old_size == new_size)
    return old_root == new_root ? Status::ok()
                                : Status::verification_failed("two different log roots for size " + std::to_string(old_size));
  if (old_size == 0) return Status::ok();
  PROV_ASSIGN_OR_RETURN(auto r, get_json<api::ConsistencyProofResponse>(
                                    client, "/v1/proofs/consistency?from=" + std::to_string(old_size) +
                                                "&to=" + std::to_string(new_size),
                                    true, "consistency proof"));
  PROV_ASSIGN_OR_RETURN(auto path, hex_path(r.path()));
  ++t->consistency_proofs;
  Status v = crypto::merkle::verify_consistency(old_size, new_size, old_root, new_root, path);
  if (!v.is_ok())
    return Status::verification_failed("log of size " + std::to_string(old_size) + " is not proven a prefix of size " +
                                       std::to_string(new_size) + ": " + v.message());
  return Status::ok();
}

// Fetches block `h` and checks it against `prev` and the validator set;
// kNotFound if the node has no such block.
Status audit_block(NodeClient& client, const ledger::v1::Genesis& genesis, const consensus::ValidatorSet& set,
                   const Hash256& vset_hash, uint64_t h, Prev* prev, Tally* t, bool link_only) {
  PROV_ASSIGN_OR_RETURN(auto r, get_json<api::BlockResponse>(client, "/v1/blocks/" + std::to_string(h), true,
                                                             "block " + std::to_string(h)));
  const std::string at = "block " + std::to_string(h) + ": ";
  auto block = ledger::decode_block(as_bytes(r.block()), kMaxBlockBytes);
  if (!block) return Status::verification_failed(at + "undecodable block bytes: " + block.status().message());
  auto header = ledger::decode_header(as_bytes(block->header()));
  if (!header) return Status::verification_failed(at + "undecodable header: " + header.status().message());
  const Hash256 id = consensus::block_id(as_bytes(block->header()));
  if (header->chain_id() != genesis.chain_id() || header->height() != h)
    return Status::verification_failed(at + "the header is for chain " + header->chain_id() + " height " +
                                       std::to_string(header->height()));
  if (r.commit_proof().empty())
    return Status::verification_failed(at + "the node served no commit proof (upgrade the node: /v1/blocks must "
                                             "carry commit_proof)");
  consensus::v1::CommitProof proof;
  if (!ledger::parse_canonical(as_bytes(r.commit_proof()), proof))
    return Status::verification_failed(at + "undecodable commit proof");
  if (proof.header() != block->header()) return Status::verification_failed(at + "the commit proof is for another block");
  if (header->epoch() != 0)
    return Status::verification_failed(at + "epoch " + std::to_string(header->epoch()) +
                                       ": following validator-set changes is not supported by audit yet");
  if (header->validator_set_hash() != to_string(vset_hash))
    return Status::verification_failed(at + "the header names a validator set other than the genesis set");
  auto committed = consensus::verify_commit_proof(set, proof);
  if (!committed) return Status::verification_failed(at + "commit proof: " + committed.status().message());
  if (!link_only) {
    if (header->parent_hash() != to_string(prev->id))
      return Status::verification_failed(at + "parent hash does not link to block " + std::to_string(prev->height));
    if (header->time_ms() < prev->time_ms) return Status::verification_failed(at + "time goes backwards");
    crypto::merkle::MemoryTree payload;
    for (const auto& tx : block->txs()) payload.append(as_bytes(tx));
    if (header->payload_hash() != to_string(payload.root()))
      return Status::verification_failed(at + "payload hash is not the root over its transactions");
    if (header->log_size() != prev->log_size + static_cast<uint64_t>(block->txs_size()))
      return Status::verification_failed(at + "log size " + std::to_string(header->log_size()) + " is not " +
                                         std::to_string(prev->log_size) + " + " + std::to_string(block->txs_size()) +
                                         " transactions (the log shrank or skipped)");
    Hash256 root;
    if (!root.assign(as_bytes(header->log_root()))) return Status::verification_failed(at + "log root is not 32 bytes");
    Status grew = prove_grew(client, prev->log_size, prev->log_root, header->log_size(), root, t);
    if (!grew.is_ok()) return Status::verification_failed(at + grew.message());
    ++t->blocks;
    t->txs += static_cast<uint64_t>(block->txs_size());
  }
  prev->height = h;
  prev->id = id;
  prev->log_size = header->log_size();
  prev->log_root.assign(as_bytes(header->log_root()));
  prev->time_ms = header->time_ms();
  return Status::ok();
}

int run_audit(const Context& ctx, const AuditOptions& o) {
  if (o.from == 0) return usage_error(ctx, "--from must be >= 1 (block 1 is the first)");
  if (o.to && o.to < o.from) return usage_error(ctx, "--to must be >= --from");
  auto s = open_session(ctx, o.passphrase, true);
  if (!s) return report(ctx, s.status());
  std::vector<consensus::ValidatorSet::Member> members;
  for (const auto& v : s->genesis.validators()) {
    PublicKey key;
    if (!key.assign(as_bytes(v.pub_key()))) return report(ctx, Status::invalid_argument("genesis key not 32 bytes"));
    members.push_back({v.name(), key});
  }
  auto set = consensus::ValidatorSet::create(s->genesis.chain_id(), 0, std::move(members));
  if (!set) return report(ctx, set.status());
  const Hash256 vset_hash = ledger::validator_set_hash(s->genesis.validators());

  // The checkpoint first: the blocks read after it reach at least its size.
  auto cp = fetch_checkpoint(*s->client, s->genesis, nullptr);
  if (!cp) return report(ctx, cp.status());
  uint64_t to = o.to;
  if (to == 0) {
    auto st = get_json<api::StatusResponse>(*s->client, "/v1/status", false, "status");
    if (!st) return report(ctx, st.status());
    to = st->height();  // a hint only: every block up to it is verified
  }
  if (to < o.from) return report(ctx, Status::not_found("the chain has no block " + std::to_string(o.from) + " yet"));
  Prev prev;
  prev.log_root = crypto::merkle::empty_root();
  Tally t;
  if (o.from > 1) {
    // Anchor the range on its parent, itself checked by its commit proof.
    Status a = audit_block(*s->client, s->genesis, *set, vset_hash, o.from - 1, &prev, &t, true);
    if (!a.is_ok()) return report(ctx, a);
  }
  for (uint64_t h = o.from; h <= to; ++h) {
    Status a = audit_block(*s->client, s->genesis, *set, vset_hash, h, &prev, &t, false);
    if (!a.is_ok()) return report(ctx, a);
  }
  // Tie the chain to the quorum-signed checkpoint.
  const auto& c = cp->checkpoint;
  std::string tie;
  if (prev.log_size <= c.size) {
    Status g = prove_grew(*s->client, prev.log_size, prev.log_root, c.size, c.root, &t);
    if (!g.is_ok()) return report(ctx, Status::verification_failed("the audited chain and the checkpoint disagree: " + g.message()));
    tie = "the log at block " + std::to_string(prev.height) + " is a prefix of the checkpoint of size " +
          std::to_string(c.size);
  } else {
    std::string cps;
    auto newer = fetch_checkpoint(*s->client, s->genesis, &cps);
    if (!newer) return report(ctx, newer.status());
    if (newer->checkpoint.size < prev.log_size)
      return report(ctx, Status::verification_failed("the chain's log (size " + std::to_string(prev.log_size) +
                                                     ") is ahead of every checkpoint; run audit again"));
    Status g = prove_grew(*s->client, prev.log_size, prev.log_root, newer->checkpoint.size, newer->checkpoint.root, &t);
    if (!g.is_ok()) return report(ctx, Status::verification_failed("the audited chain and the checkpoint disagree: " + g.message()));
    tie = "the log at block " + std::to_string(prev.height) + " is a prefix of the checkpoint of size " +
          std::to_string(newer->checkpoint.size);
  }
  if (ctx.json) {
    std::cout << JsonObject()
                     .boolean("ok", true)
                     .boolean("verified", true)
                     .num("from", static_cast<int64_t>(o.from))
                     .num("to", static_cast<int64_t>(prev.height))
                     .num("blocks", static_cast<int64_t>(t.blocks))
                     .num("transactions", static_cast<int64_t>(t.txs))
                     .num("log_size", static_cast<int64_t>(prev.log_size))
                     .str("log_root", crypto::hex_encode(prev.log_root))
                     .num("consistency_proofs", static_cast<int64_t>(t.consistency_proofs))
                     .raw("checkpoint", checkpoint_json(*cp, s->genesis))
                     .dump()
              << "\n";
    return static_cast<int>(Exit::kOk);
  }
  std::cout << "audit of " << s->genesis.chain_id() << " blocks " << o.from << ".." << prev.height << ": OK\n"
            << "  " << t.blocks << " commit proofs verified against the genesis validators (quorum " << set->quorum()
            << " of " << set->size() << ")\n"
            << "  hash links, payload roots, validator-set hash and times checked on every header\n"
            << "  log grew from " << (o.from > 1 ? "block " + std::to_string(o.from - 1) : std::string("empty"))
            << " to " << prev.log_size << " entries (" << t.txs << " transactions), " << t.consistency_proofs
            << " RFC 9162 consistency proofs verified\n"
            << "  " << tie << " (signed by " << cp->signers.size() << " validators)\n";
  return static_cast<int>(Exit::kOk);
}

}  // namespace

void add_audit_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<AuditOptions>();
  CLI::App* cmd = app.add_subcommand("audit", "light-client check of every block: commit proofs, links, log growth");
  cmd->add_option("--from", o->from, "first block height to check (its parent is checked as the anchor)")
      ->capture_default_str();
  cmd->add_option("--to", o->to, "last block height (default: the node's head)");
  add_passphrase_options(cmd, o->passphrase, "the client key");
  cmd->footer(
      "Example:\n"
      "  PROV_HOME=./localnet provctl audit\n"
      "  provctl audit --from 1000 --to 2000 --json\n"
      "Needs an auditor key (blocks hold every agency's transactions). Exit 0 if every block verifies,\n"
      "1 naming the first block that does not.");
  cmd->callback([&ctx, o] { ctx.run = [&ctx, o] { return run_audit(ctx, *o); }; });
}

}  // namespace prov::provctl
