// Verified reads for provctl; see verified.h.
#include "tools/provctl/verified.h"

#include <chrono>
#include <ctime>
#include <fstream>
#include <sstream>
#include <thread>

#include "crypto/encoding.h"
#include "crypto/keyfile.h"
#include "crypto/sha256.h"
#include "ledger/genesis.h"
#include "ledger/registry.h"
#include "ledger/tx.h"
#include "node/api/api.pb.h"

namespace prov::provctl {
namespace {

// Submission waits (the node caps its own wait at 30 s), then the receipt
// poll for a checkpoint covering the entry.
constexpr uint32_t kSubmitWaitMs = 30000;
constexpr uint32_t kReceiptPollMs = 30000;
constexpr uint32_t kReceiptPollIntervalMs = 250;

std::string dataset_at(const std::string& dataset, uint64_t version) {
  return version ? dataset + "@" + std::to_string(version) : dataset;
}

}  // namespace

ledger::v1::TransactionBody new_transaction_body(const std::string& chain_id, const std::string& agency) {
  ledger::v1::TransactionBody body;
  body.set_version(1);
  body.set_chain_id(chain_id);
  body.set_agency(agency);
  uint64_t nonce = 0;
  crypto::random_bytes({reinterpret_cast<uint8_t*>(&nonce), sizeof nonce});
  body.set_nonce(nonce);
  body.set_client_time_ms(now_ms());
  return body;
}

Result<ReadSession> open_session(const Context& ctx, const PassphraseOptions& pass, bool need_key) {
  PROV_ASSIGN_OR_RETURN(HomeConfig home, load_home(ctx.home));
  PROV_ASSIGN_OR_RETURN(ledger::v1::Genesis genesis, ledger::load_genesis_file(home.genesis_path));
  if (!home.chain_id.empty() && home.chain_id != genesis.chain_id())
    return Status::invalid_argument("provctl.conf says chain_id " + home.chain_id + " but " + home.genesis_path +
                                    " is for " + genesis.chain_id());
  std::optional<crypto::KeyPair> key;
  auto p = read_passphrase(pass);
  if (!p) return p.status();
  auto k = crypto::load_key_file(home.key_path, *p);
  if (k) {
    key = std::move(*k);
  } else if (need_key) {
    return Status(k.status().code(), "client key " + home.key_path + ": " + k.status().message());
  }
  ReadSession s{std::move(home), std::move(genesis), std::move(key), std::nullopt};
  s.client.emplace(s.home.nodes, s.genesis.chain_id(), s.key);
  return s;
}

Result<ledger::v1::Genesis> load_genesis_for_verify(const Context& ctx, const std::string& path) {
  std::string file = path;
  if (file.empty()) {
    auto home = load_home(ctx.home);
    if (!home)
      return Status::not_found("no genesis to verify against: pass --genesis FILE, or --home DIR / PROV_HOME (" +
                               home.status().message() + ")");
    file = home->genesis_path;
  }
  auto g = ledger::load_genesis_file(file);
  if (!g) return Status(g.status().code(), "genesis " + file + ": " + g.status().message());
  return g;
}

Result<std::string> read_text_file(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::not_found("cannot read " + path);
  std::string out;
  out.resize(max_bytes + 1);
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  if (in.bad()) return Status::io_error("error reading " + path);
  out.resize(static_cast<size_t>(in.gcount()));
  if (out.size() > max_bytes)
    return Status::resource_exhausted(path + " is larger than " + std::to_string(max_bytes) + " bytes");
  return out;
}

Status api_failure(const HttpReply& reply, const std::string& what) {
  std::string msg = what + ": " + reply.node + " answered " + std::to_string(reply.status) + " " +
                    api_error_message(reply);
  if (reply.status == 404) return Status::not_found(msg);
  if (reply.status == 401)
    return Status::permission_denied(msg + " (is the home's client key registered and active on this chain?)");
  if (reply.status == 403) return Status::permission_denied(msg + " (your agency's roles do not allow this read)");
  return Status::invalid_argument(msg);
}

Result<ledger::VerifiedCheckpoint> fetch_checkpoint(NodeClient& client, const ledger::v1::Genesis& genesis,
                                                   std::string* raw) {
  PROV_ASSIGN_OR_RETURN(HttpReply r, client.request("GET", "/v1/checkpoint"));
  if (r.status != 200) return api_failure(r, "checkpoint");
  auto cp = ledger::verify_checkpoint(r.body, genesis);
  if (!cp)
    return Status::verification_failed("the checkpoint from " + r.node + " does not verify against the genesis: " +
                                       cp.status().message());
  if (raw) *raw = r.body;
  return cp;
}

Result<ledger::VerifiedReceipt> fetch_verified_receipt(NodeClient& client, const ledger::v1::Genesis& genesis,
                                                       uint64_t index, std::string* raw) {
  const std::string what = "receipt of entry " + std::to_string(index);
  PROV_ASSIGN_OR_RETURN(auto rr,
                        get_json<node::api::v1::ReceiptResponse>(client, "/v1/receipts/" + std::to_string(index),
                                                                 true, what));
  auto v = ledger::verify_receipt(rr.receipt(), genesis);
  if (!v) return Status::verification_failed("the node's " + what + " does not verify: " + v.status().message());
  if (v->index != index)
    return Status::verification_failed("asked for the receipt of entry " + std::to_string(index) +
                                       ", the node sent one for entry " + std::to_string(v->index));
  if (raw) *raw = rr.receipt();
  return v;
}

Result<EntryFacts> entry_facts(const ledger::v1::Entry& entry, const ledger::v1::Genesis& genesis) {
  EntryFacts f;
  f.index = entry.index();
  f.height = entry.height();
  f.block_time_ms = entry.block_time_ms();
  f.tx_hash = crypto::hex_encode(crypto::sha256(as_bytes(entry.tx())));
  f.links.assign(entry.links().begin(), entry.links().end());
  ledger::v1::SignedTransaction st;
  if (!ledger::parse_canonical(as_bytes(entry.tx()), st) || !ledger::parse_canonical(as_bytes(st.body()), f.body))
    return Status::verification_failed("entry " + std::to_string(entry.index()) + " holds an undecodable transaction");
  f.agency = f.body.agency();
  f.signer_b64 = crypto::base64_encode(as_bytes(st.signer()));
  PublicKey key;
  Signature sig;
  if (key.assign(as_bytes(st.signer())) && sig.assign(as_bytes(st.signature())))
    f.signature_valid = crypto::verify(key, crypto::purpose::kTransaction, genesis.chain_id(), as_bytes(st.body()), sig);
  for (const auto& a : genesis.agencies())
    for (const auto& k : a.keys())
      if (k.pub_key() == st.signer() && a.id() == f.agency) f.signer_name = a.id() + "/" + k.name();
  switch (f.body.kind_case()) {
    case ledger::v1::TransactionBody::kAnchor: f.kind = "anchor"; break;
    case ledger::v1::TransactionBody::kAccess: f.kind = "access"; break;
    case ledger::v1::TransactionBody::kGovernance: f.kind = "governance"; break;
    default: f.kind = "unknown";
  }
  return f;
}

std::string iso_time(int64_t ms) {
  std::time_t s = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

std::string entry_subject(const EntryFacts& f) {
  std::string dataset;
  if (f.body.has_anchor()) dataset = f.body.anchor().dataset();
  if (f.body.has_access()) dataset = f.body.access().dataset();
  for (const auto& l : f.links)
    if (dataset.empty() || l.dataset() == dataset) return dataset_at(l.dataset(), l.version());
  return dataset;
}

std::string entry_text(const EntryFacts& f, const std::string& in) {
  std::ostringstream o;
  const std::string who = f.signer_name.empty() ? "agency " + f.agency + ", key " + f.signer_b64 + " (not a genesis key)"
                                                : "agency " + f.agency + ", key " + f.signer_name;
  if (f.body.has_anchor()) {
    const auto& a = f.body.anchor();
    o << in << "anchored:  " << entry_subject(f) << "\n";
    if (a.batch_records())
      o << in << "batch:     " << a.batch_records() << " records, root sha256:" << crypto::hex_encode(as_bytes(a.digest()))
        << "\n";
    else
      o << in << "digest:    sha256:" << crypto::hex_encode(as_bytes(a.digest())) << " (" << a.size_bytes()
        << " bytes, " << a.media_type() << ")\n";
    for (const auto& d : a.derived_from()) o << in << "derived:   from " << dataset_at(d.dataset(), d.version()) << "\n";
    for (const auto& m : a.meta()) o << in << "meta:      " << m.key() << "=" << m.value() << "\n";
  } else if (f.body.has_access()) {
    const auto& e = f.body.access();
    o << in << "access:    " << e.action() << " of " << entry_subject(f) << " by actor " << e.actor() << "\n";
    o << in << "purpose:   " << e.purpose() << (e.legal_basis().empty() ? "" : " (legal basis: " + e.legal_basis() + ")")
      << "\n";
    if (!e.subject_hash().empty())
      o << in << "subject:   keyed hash " << crypto::hex_encode(as_bytes(e.subject_hash())) << "\n";
  } else {
    o << in << "kind:      " << f.kind << "\n";
  }
  o << in << "by:        " << who << (f.signature_valid ? "" : " — TRANSACTION SIGNATURE DOES NOT VERIFY") << "\n";
  o << in << "entry:     " << f.index << " in block " << f.height << " at " << iso_time(f.block_time_ms) << "\n";
  return o.str();
}

std::string entry_json(const EntryFacts& f) {
  JsonObject o;
  o.num("index", static_cast<int64_t>(f.index))
      .num("height", static_cast<int64_t>(f.height))
      .num("block_time_ms", f.block_time_ms)
      .str("block_time", iso_time(f.block_time_ms))
      .str("tx_hash", f.tx_hash)
      .str("kind", f.kind)
      .str("agency", f.agency)
      .str("signer", f.signer_b64)
      .str("signer_name", f.signer_name)
      .boolean("signature_valid", f.signature_valid);
  std::vector<std::string> links;
  for (const auto& l : f.links)
    links.push_back(JsonObject().str("dataset", l.dataset()).num("version", static_cast<int64_t>(l.version())).dump());
  o.raw("links", json_array(links));
  if (f.body.has_anchor()) {
    const auto& a = f.body.anchor();
    std::vector<std::string> from, meta;
    for (const auto& d : a.derived_from())
      from.push_back(JsonObject().str("dataset", d.dataset()).num("version", static_cast<int64_t>(d.version())).dump());
    for (const auto& m : a.meta()) meta.push_back(JsonObject().str("key", m.key()).str("value", m.value()).dump());
    o.str("dataset", a.dataset())
        .str("digest", crypto::hex_encode(as_bytes(a.digest())))
        .num("size_bytes", static_cast<int64_t>(a.size_bytes()))
        .str("media_type", a.media_type())
        .num("batch_records", static_cast<int64_t>(a.batch_records()))
        .raw("derived_from", json_array(from))
        .raw("meta", json_array(meta));
  } else if (f.body.has_access()) {
    const auto& e = f.body.access();
    o.str("dataset", e.dataset())
        .num("version", static_cast<int64_t>(e.version()))
        .str("actor", e.actor())
        .str("action", e.action())
        .str("purpose", e.purpose())
        .str("legal_basis", e.legal_basis())
        .str("subject_hash", crypto::hex_encode(as_bytes(e.subject_hash())))
        .num("access_time_ms", e.access_time_ms());
  }
  return o.dump();
}

std::string checkpoint_json(const ledger::VerifiedCheckpoint& cp, const ledger::v1::Genesis& genesis) {
  std::vector<std::string> signers;
  for (const auto& s : cp.signers) signers.push_back(json_quote(s));
  return JsonObject()
      .str("origin", cp.checkpoint.origin)
      .num("size", static_cast<int64_t>(cp.checkpoint.size))
      .str("root", crypto::hex_encode(cp.checkpoint.root))
      .raw("signers", json_array(signers))
      .num("validators", genesis.validators_size())
      .num("quorum", static_cast<int64_t>(ledger::quorum_size(static_cast<size_t>(genesis.validators_size()))))
      .dump();
}

Result<ledger::VerifiedReceipt> submit_and_verify(NodeClient& client, const ledger::v1::Genesis& genesis,
                                                  const Bytes& tx, std::string* receipt_text) {
  node::api::v1::SubmitRequest sr;
  sr.set_tx(to_string(tx));
  sr.set_wait(true);
  sr.set_timeout_ms(kSubmitWaitMs);
  std::string req;
  google::protobuf::util::JsonPrintOptions popts;
  popts.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(sr, &req, popts);
  PROV_ASSIGN_OR_RETURN(HttpReply reply, client.request("POST", "/v1/transactions", req, "application/json", false,
                                                        kSubmitWaitMs + 10000));
  if (reply.status != 200 && reply.status != 202)
    return Status::invalid_argument("the node refused the transaction: " + api_error_message(reply));
  node::api::v1::SubmitResponse res;
  if (!parse_api_json(reply.body, &res)) return Status::corruption(reply.node + " sent an unreadable submit answer");
  const std::string tx_hash = crypto::hex_encode(crypto::sha256(tx));
  // Not kUnavailable: a script retrying on exit 3 would submit twice.
  if (!res.committed()) return Status::io_error("accepted but not committed in time; look up tx " + tx_hash);
  std::string receipt = res.receipt();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kReceiptPollMs);
  while (receipt.empty()) {
    PROV_ASSIGN_OR_RETURN(HttpReply r, client.request("GET", "/v1/receipts/" + std::to_string(res.entry_index()), {},
                                                      {}, true));
    if (r.status == 200) {
      node::api::v1::ReceiptResponse rr;
      if (!parse_api_json(r.body, &rr)) return Status::corruption(r.node + " sent an unreadable receipt answer");
      receipt = rr.receipt();
      break;
    }
    if (r.status != 404 || std::chrono::steady_clock::now() > deadline)
      return api_failure(r, "receipt of entry " + std::to_string(res.entry_index()));
    std::this_thread::sleep_for(std::chrono::milliseconds(kReceiptPollIntervalMs));
  }
  auto v = ledger::verify_receipt(receipt, genesis);
  if (!v) return Status::verification_failed("the receipt does not verify: " + v.status().message());
  if (v->entry.tx() != to_string(tx) || v->index != res.entry_index())
    return Status::verification_failed("the node's receipt is not for the submitted transaction " + tx_hash);
  if (receipt_text) *receipt_text = std::move(receipt);
  return v;
}

}  // namespace prov::provctl
