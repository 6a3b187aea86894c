// Client API request handling; see handler.h and docs/api.md.
#include "node/api/handler.h"

#include "node/api/batch_json.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "crypto/encoding.h"
#include "crypto/http_signature.h"
#include "crypto/merkle.h"
#include "crypto/sha256.h"
#include "ledger/query.h"
#include "ledger/receipt.h"
#include "ledger/registry.h"
#include "ledger/tx.h"
#include "node/api/api.pb.h"

namespace prov::node::api {
namespace {

namespace pb = prov::node::api::v1;
using Done = std::function<void(Response)>;

constexpr size_t kMaxQueryParams = 16;
constexpr size_t kMaxTargetBytes = 4096;

// `s` with every byte that is not part of a well-formed UTF-8 sequence
// (RFC 3629: no overlongs, surrogates or code points above U+10FFFF)
// replaced by '?'. Error messages may quote what a client sent; proto3
// string fields must be UTF-8, and JSON printing fails on anything else.
std::string utf8_or_replaced(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    size_t len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xe ? 3 : (b >> 3) == 0x1e ? 4 : 0;
    bool ok = len > 0 && i + len <= s.size();
    uint32_t cp = len == 1 ? b : len == 2 ? (b & 0x1f) : len == 3 ? (b & 0x0f) : (b & 0x07);
    for (size_t k = 1; ok && k < len; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      ok = (c & 0xc0) == 0x80;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (ok) {
      const uint32_t min = len == 1 ? 0 : len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
      ok = cp >= min && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
    }
    if (ok) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out.push_back('?');
      ++i;
    }
  }
  return out;
}

// The proto3 JSON mapping of `body` into `m`; unknown fields are refused.
bool parse_json(const std::string& body, google::protobuf::Message* m) {
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = false;
  return google::protobuf::util::JsonStringToMessage(body, m, opts).ok();
}

std::string to_json(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  opts.always_print_primitive_fields = true;
  std::string out;
  // Printing our own well-formed messages can not fail; an empty object is
  // the safe answer should it ever.
  if (!google::protobuf::util::MessageToJsonString(m, &out, opts).ok()) out = "{}";
  out += '\n';
  return out;
}

// Beast 1.74 speaks boost::string_view; we speak std::string_view.
std::string_view sv(boost::beast::string_view s) { return {s.data(), s.size()}; }
boost::beast::string_view bsv(std::string_view s) { return {s.data(), s.size()}; }

std::string hex(const Hash256& h) { return crypto::hex_encode(h); }

Response make(http::status status, std::string body, std::string_view content_type, unsigned version) {
  Response res{status, version};
  res.set(http::field::content_type, bsv(content_type));
  res.set(http::field::cache_control, "no-store");
  res.body() = std::move(body);
  return res;
}

Response json(const google::protobuf::Message& m, unsigned version, http::status status = http::status::ok) {
  return make(status, to_json(m), "application/json", version);
}

// The HTTP status for an operating error from a query or the node.
http::status http_status_for(StatusCode code) {
  switch (code) {
    case StatusCode::kInvalidArgument: return http::status::bad_request;
    case StatusCode::kNotFound: return http::status::not_found;
    case StatusCode::kAlreadyExists: return http::status::conflict;
    case StatusCode::kPermissionDenied: return http::status::forbidden;
    case StatusCode::kUnauthenticated: return http::status::unauthorized;
    case StatusCode::kResourceExhausted: return http::status::too_many_requests;
    case StatusCode::kUnavailable: return http::status::service_unavailable;
    default: return http::status::internal_server_error;
  }
}

// HTTP status of a typed transaction rejection (docs/api.md).
http::status http_status_for(ledger::Rejection r) {
  using ledger::Rejection;
  switch (r) {
    case Rejection::kTooLarge: return http::status::payload_too_large;
    case Rejection::kUnknownAgency:
    case Rejection::kUnknownSigner:
    case Rejection::kBadSignature:
    case Rejection::kRoleNotAllowed:
    case Rejection::kNamespaceNotOwned:
    case Rejection::kQuorumNotMet: return http::status::forbidden;
    case Rejection::kDuplicate:
    case Rejection::kVersionConflict: return http::status::conflict;
    case Rejection::kStateUnavailable: return http::status::service_unavailable;
    default: return http::status::bad_request;
  }
}

// The state and error code of one result, as the single submit names them.
void describe(const SubmitResult& res, pb::SubmitBatchResult* out) {
  switch (res.state) {
    case SubmitState::kAccepted: out->set_state("accepted"); break;
    case SubmitState::kCommitted: out->set_state("committed"); break;
    case SubmitState::kRejected:
      out->set_state("rejected");
      out->set_code(std::string(ledger::rejection_name(res.rejection.value_or(ledger::Rejection::kMalformed))));
      break;
    case SubmitState::kBusy:
      out->set_state("busy");
      out->set_code("busy");
      break;
    case SubmitState::kUnavailable:
      out->set_state("unavailable");
      out->set_code("unavailable");
      break;
  }
  out->set_message(utf8_or_replaced(res.message));
}

bool parse_u64(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

// Who signed a read, as the registry knows them.
struct Principal {
  std::string agency;
  std::string ns;
  bool auditor = false;
  bool reader = false;  // writer or recorder: reads within its own namespace
};

bool entry_visible(const Principal& p, const ledger::v1::Entry& entry, const ledger::v1::TransactionBody& body) {
  if (p.auditor) return true;
  if (!p.reader) return false;
  if (body.agency() == p.agency) return true;
  for (const auto& link : entry.links())
    if (ledger::dataset_namespace(link.dataset()) == p.ns) return true;
  return false;
}

// Decodes the transaction inside an entry (bytes-envelope: parse only).
bool decode_tx(const ledger::v1::Entry& entry, ledger::v1::SignedTransaction* env, ledger::v1::TransactionBody* body) {
  return ledger::parse_canonical(as_bytes(entry.tx()), *env) && ledger::parse_canonical(as_bytes(env->body()), *body);
}

}  // namespace

struct ApiHandler::Ctx {
  const Request& req;
  std::string path;
  std::map<std::string, std::string, std::less<>> query;
  unsigned version = 11;
  bool keep_alive = true;
  std::shared_ptr<const ledger::KvReader> state;  // set once a read needs it
  Principal who;

  Response error(http::status status, std::string_view code, std::string_view message) const {
    return ApiHandler::error_response(status, code, message, version);
  }
  Response error(const Status& st) const {
    return error(http_status_for(st.code()), status_code_name(st.code()), st.message());
  }
  std::optional<std::string_view> param(std::string_view name) const {
    auto it = query.find(name);
    if (it == query.end()) return std::nullopt;
    return it->second;
  }
};

ApiHandler::ApiHandler(NodeService& node, ApiConfig config) : node_(node), config_(std::move(config)) {
  if (!config_.clock_s) {
    config_.clock_s = [] {
      return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
  }
}

Response ApiHandler::error_response(http::status status, std::string_view code, std::string_view message,
                                    unsigned version) {
  pb::ErrorResponse e;
  e.mutable_error()->set_code(std::string(code));
  e.mutable_error()->set_message(utf8_or_replaced(message));
  Response res = json(e, version, status);
  // Busy or unavailable: worth retrying, and when (docs/api.md).
  if (status == http::status::too_many_requests || status == http::status::service_unavailable)
    res.set(http::field::retry_after, "1");
  res.prepare_payload();
  return res;
}

Response ApiHandler::finish(unsigned version, bool keep_alive, Response res) {
  unsigned cls = static_cast<unsigned>(res.result_int()) / 100;
  if (cls >= 1 && cls <= 5) responses_[cls].fetch_add(1, std::memory_order_relaxed);
  if (res.result() == http::status::unauthorized || res.result() == http::status::forbidden)
    auth_failures_.fetch_add(1, std::memory_order_relaxed);
  res.version(version);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

std::string ApiHandler::metrics_text() const {
  std::string out;
  out += "# HELP prov_api_responses_total API responses by status class.\n# TYPE prov_api_responses_total counter\n";
  for (unsigned c = 1; c <= 5; ++c)
    out += "prov_api_responses_total{class=\"" + std::to_string(c) + "xx\"} " +
           std::to_string(responses_[c].load(std::memory_order_relaxed)) + "\n";
  auto gauge = [&](const char* name, const char* help, const char* type, uint64_t v) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + " " +
           std::to_string(v) + "\n";
  };
  gauge("prov_api_auth_failures_total", "Requests refused with 401 or 403.", "counter", auth_failures_.load());
  gauge("prov_api_connections_open", "Open API connections.", "gauge", connections_open.load());
  gauge("prov_api_connections_rejected_total", "Connections refused over the connection bound.", "counter",
        connections_rejected.load());
  gauge("prov_api_parse_errors_total", "Requests that could not be parsed.", "counter", parse_errors.load());
  return out;
}

void ApiHandler::handle(const Request& req, std::function<void(Response)> done) {
  Ctx ctx{req, {}, {}, req.version(), req.keep_alive(), nullptr, {}};
  auto reply = [this, &ctx, &done](Response r) { done(finish(ctx.version, ctx.keep_alive, std::move(r))); };
  std::string_view target = sv(req.target());
  if (target.empty() || target[0] != '/' || target.size() > kMaxTargetBytes)
    return reply(ctx.error(http::status::bad_request, "bad_target", "the request target must be an absolute path"));
  size_t q = target.find('?');
  ctx.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) {
    std::string_view rest = target.substr(q + 1);
    while (!rest.empty()) {
      size_t amp = rest.find('&');
      std::string_view pair = rest.substr(0, amp);
      size_t eq = pair.find('=');
      std::string key(pair.substr(0, eq));
      std::string value(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
      if (key.empty() || ctx.query.size() >= kMaxQueryParams || !ctx.query.emplace(key, value).second)
        return reply(ctx.error(http::status::bad_request, "bad_query", "empty, repeated or too many query parameters"));
      rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    }
  }
  // Submission answers asynchronously and owns its copy of what it needs;
  // everything else answers before route() returns.
  route(ctx, [this, version = ctx.version, keep_alive = ctx.keep_alive, done](Response r) {
    done(finish(version, keep_alive, std::move(r)));
  });
}

namespace {

// Authenticates a signed read against the registry of `state`.
Result<Principal> authenticate(const Request& req, const ledger::KvReader& state, std::string_view chain_id,
                               int64_t now_s) {
  auto input = req.find("Signature-Input");
  auto sig = req.find("Signature");
  if (input == req.end() || sig == req.end())
    return Status::unauthenticated("this endpoint needs an RFC 9421 signed request (Signature-Input, Signature)");
  auto host = req.find(http::field::host);
  if (host == req.end()) return Status::unauthenticated("the Host header is needed to rebuild @target-uri");
  crypto::http_sig::RequestParts parts;
  parts.method = std::string(req.method_string());
  parts.target_uri = "http://" + std::string(host->value()) + std::string(req.target());
  if (auto d = req.find("Content-Digest"); d != req.end()) parts.content_digest = std::string(d->value());
  auto verified = crypto::http_sig::verify_request(parts, as_bytes(req.body()), sv(input->value()), sv(sig->value()),
                                                   chain_id, now_s);
  if (!verified) return Status::unauthenticated(verified.status().message());
  PROV_ASSIGN_OR_RETURN(std::optional<std::string> owner, ledger::key_owner(state, verified->key));
  if (!owner) return Status::unauthenticated("the signing key is not registered");
  PROV_ASSIGN_OR_RETURN(std::optional<ledger::v1::AgencyRecord> agency, ledger::find_agency(state, *owner));
  if (!agency || !ledger::key_active(*agency, verified->key))
    return Status::unauthenticated("the signing key is revoked or its agency is gone");
  Principal p;
  p.agency = agency->agency().id();
  p.ns = agency->agency().namespace_();
  p.auditor = ledger::has_role(agency->agency(), ledger::kRoleAuditor);
  p.reader = ledger::has_role(agency->agency(), ledger::kRoleWriter) ||
             ledger::has_role(agency->agency(), ledger::kRoleRecorder);
  return p;
}

Status forbidden(std::string m) { return Status::permission_denied(std::move(m)); }

// Page parameters: cursor, limit (1..max), order=oldest|newest.
Result<ledger::PageRequest> page_params(const std::map<std::string, std::string, std::less<>>& q, uint32_t max_limit) {
  ledger::PageRequest page;
  uint64_t v = 0;
  if (auto it = q.find("cursor"); it != q.end() && !it->second.empty()) {
    if (!parse_u64(it->second, &v)) return Status::invalid_argument("cursor must be a value from next_cursor");
    page.cursor = v;
  }
  if (auto it = q.find("limit"); it != q.end()) {
    if (!parse_u64(it->second, &v) || v == 0 || v > max_limit)
      return Status::invalid_argument("limit must be 1.." + std::to_string(max_limit));
    page.limit = static_cast<uint32_t>(v);
  }
  if (page.limit > max_limit) page.limit = max_limit;
  if (auto it = q.find("order"); it != q.end()) {
    if (it->second != "oldest" && it->second != "newest")
      return Status::invalid_argument("order must be oldest or newest");
    page.newest_first = it->second == "newest";
  }
  return page;
}

std::string cursor_text(const std::optional<uint64_t>& c) { return c ? std::to_string(*c) : std::string(); }

// The entry at `rec` as JSON, if `who` may see it.
Result<pb::EntryResponse> entry_view(const Principal& who, ledger::EntryRecord rec) {
  ledger::v1::SignedTransaction env;
  ledger::v1::TransactionBody body;
  if (!decode_tx(rec.entry, &env, &body)) return Status::corruption("stored transaction does not decode");
  if (!entry_visible(who, rec.entry, body))
    return forbidden("agency \"" + who.agency + "\" may not read entry " + std::to_string(rec.entry.index()));
  pb::EntryResponse out;
  out.set_index(rec.entry.index());
  out.set_entry(to_string(rec.bytes));
  out.set_leaf_hash(hex(crypto::merkle::hash_leaf(rec.bytes)));
  out.set_tx_hash(hex(crypto::sha256(as_bytes(rec.entry.tx()))));
  out.set_signer(env.signer());
  *out.mutable_body() = std::move(body);
  *out.mutable_decoded() = std::move(rec.entry);
  return out;
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

}  // namespace

void ApiHandler::route(Ctx& ctx, const Done& done) {
  const std::string_view path = ctx.path;
  const http::verb method = ctx.req.method();
  auto only = [&](http::verb allowed) {
    if (method == allowed) return true;
    Response r = ctx.error(http::status::method_not_allowed, "method_not_allowed",
                           "use " + std::string(http::to_string(allowed)) + " for " + std::string(path));
    r.set(http::field::allow, http::to_string(allowed));
    done(std::move(r));
    return false;
  };
  // ---- public
  if (path == "/healthz") {
    if (only(http::verb::get)) done(make(http::status::ok, "ok\n", "text/plain; charset=utf-8", ctx.version));
    return;
  }
  if (path == "/metrics") {
    if (only(http::verb::get))
      done(make(http::status::ok, node_.metrics_text() + metrics_text(), "text/plain; version=0.0.4", ctx.version));
    return;
  }
  if (path == "/v1/status") {
    if (!only(http::verb::get)) return;
    NodeStatus s = node_.status();
    pb::StatusResponse r;
    r.set_chain_id(s.chain_id);
    r.set_node_name(s.node_name);
    r.set_version(s.version);
    r.set_height(s.height);
    r.set_last_block_hash(hex(s.last_block_hash));
    r.set_last_block_time_ms(s.last_block_time_ms);
    r.set_log_size(s.log_size);
    r.set_log_root(hex(s.log_root));
    r.set_epoch(s.epoch);
    r.set_round(s.round);
    r.set_peers_connected(s.peers_connected);
    r.set_peers_configured(s.peers_configured);
    r.set_sync_state(s.sync == SyncState::kSynced ? "synced" : s.sync == SyncState::kSyncing ? "syncing" : "starting");
    r.set_mempool_txs(s.mempool_txs);
    r.set_mempool_bytes(s.mempool_bytes);
    r.set_checkpoint_size(s.checkpoint_size);
    done(json(r, ctx.version));
    return;
  }
  if (path == "/v1/checkpoint") {
    if (!only(http::verb::get)) return;
    auto note = node_.checkpoint_note();
    if (!note) {
      done(ctx.error(http::status::not_found, "no_checkpoint", "no checkpoint with a validator quorum yet"));
      return;
    }
    done(make(http::status::ok, std::move(*note), "text/plain; charset=utf-8", ctx.version));
    return;
  }
  if (path == "/v1/transactions") {
    if (only(http::verb::post)) submit(ctx, done);
    return;
  }
  if (path == "/v1/transactions:batch") {
    if (only(http::verb::post)) submit_batch(ctx, done);
    return;
  }
  // ---- signed reads
  const bool known = starts_with(path, "/v1/entries/") || starts_with(path, "/v1/receipts/") ||
                     starts_with(path, "/v1/datasets/") || starts_with(path, "/v1/digests/") ||
                     path == "/v1/proofs/inclusion" || path == "/v1/proofs/consistency" ||
                     starts_with(path, "/v1/blocks/");
  if (!known) {
    done(ctx.error(http::status::not_found, "not_found", "no such endpoint: " + std::string(path)));
    return;
  }
  if (!only(http::verb::get)) return;
  // The checkpoint first, then the snapshot: the snapshot's log then covers it.
  std::optional<std::string> checkpoint;
  if (starts_with(path, "/v1/receipts/")) checkpoint = node_.checkpoint_note();
  ctx.state = node_.snapshot();
  if (!ctx.state) {
    done(ctx.error(http::status::service_unavailable, "unavailable", "no committed state yet"));
    return;
  }
  const ledger::KvReader& state = *ctx.state;
  auto who = authenticate(ctx.req, state, node_.chain_id(), config_.clock_s());
  if (!who) {
    done(ctx.error(who.status()));
    return;
  }
  ctx.who = *who;
  if (!ctx.who.auditor && !ctx.who.reader && path != "/v1/proofs/consistency") {
    done(ctx.error(forbidden("agency \"" + ctx.who.agency + "\" has no role that allows reads (auditor, writer or recorder)")));
    return;
  }
  auto fail = [&](const Status& st) { done(ctx.error(st)); };

  // Entry lookup shared by entries, receipts and inclusion proofs.
  auto load_entry = [&](std::string_view ref, bool by_hash) -> Result<ledger::EntryRecord> {
    if (by_hash) {
      auto h = crypto::hex_decode_fixed<Hash256>(ref);
      if (!h) return Status::invalid_argument("expected a 64-digit hex transaction hash");
      return ledger::entry_by_tx_hash(state, *h);
    }
    uint64_t index = 0;
    if (!parse_u64(ref, &index)) return Status::invalid_argument("expected a decimal entry index");
    return ledger::entry_by_index(state, index);
  };
  auto visible_entry = [&](std::string_view ref, bool by_hash) -> Result<pb::EntryResponse> {
    PROV_ASSIGN_OR_RETURN(ledger::EntryRecord rec, load_entry(ref, by_hash));
    return entry_view(ctx.who, std::move(rec));
  };

  if (starts_with(path, "/v1/entries/")) {
    std::string_view ref = path.substr(12);
    bool by_hash = starts_with(ref, "by-hash/");
    auto e = visible_entry(by_hash ? ref.substr(8) : ref, by_hash);
    if (!e) return fail(e.status());
    return done(json(*e, ctx.version));
  }
  if (starts_with(path, "/v1/receipts/")) {
    std::string_view ref = path.substr(13);
    bool by_hash = starts_with(ref, "by-hash/");
    auto e = visible_entry(by_hash ? ref.substr(8) : ref, by_hash);
    if (!e) return fail(e.status());
    if (!checkpoint) return done(ctx.error(http::status::not_found, "no_checkpoint", "no checkpoint yet"));
    auto receipt = ledger::build_receipt(state, e->index(), *checkpoint);
    if (!receipt) {
      if (receipt.status().code() == StatusCode::kNotFound)
        return done(ctx.error(http::status::not_found, "not_checkpointed",
                              "no checkpoint covers entry " + std::to_string(e->index()) + " yet; retry shortly"));
      return fail(receipt.status());
    }
    pb::ReceiptResponse r;
    r.set_index(e->index());
    auto cp = crypto::note::parse_note(*checkpoint);
    if (cp) {
      auto body = crypto::note::parse_checkpoint(cp->text);
      if (body) r.set_tree_size(body->size);
    }
    r.set_receipt(*receipt);
    return done(json(r, ctx.version));
  }
  if (starts_with(path, "/v1/datasets/")) {
    std::string_view rest = path.substr(13);
    bool history = rest.ends_with("/history");
    bool lineage = rest.ends_with("/lineage");
    if (!history && !lineage) return done(ctx.error(http::status::not_found, "not_found", "use .../history or .../lineage"));
    std::string dataset(rest.substr(0, rest.size() - 8));
    if (!ledger::dataset_id_valid(dataset))
      return fail(Status::invalid_argument("\"" + dataset + "\" is not a dataset id (namespace/name)"));
    if (!ctx.who.auditor && ledger::dataset_namespace(dataset) != ctx.who.ns)
      return fail(forbidden("agency \"" + ctx.who.agency + "\" may read only datasets in namespace \"" + ctx.who.ns + "\""));
    if (history) {
      auto page = page_params(ctx.query, config_.max_query_limit);
      if (!page) return fail(page.status());
      auto h = ledger::dataset_history(state, dataset, *page);
      if (!h) return fail(h.status());
      pb::HistoryResponse r;
      r.set_dataset(dataset);
      for (const auto& it : h->items) {
        pb::HistoryItem* item = r.add_items();
        item->set_index(it.index);
        item->set_kind(it.is_anchor ? "anchor" : "access");
        item->set_version(it.version);
      }
      r.set_next_cursor(cursor_text(h->next_cursor));
      return done(json(r, ctx.version));
    }
    ledger::LineageRequest lr;
    lr.dataset = dataset;
    uint64_t v = 0;
    if (auto p = ctx.param("version")) {
      if (!parse_u64(*p, &v)) return fail(Status::invalid_argument("version must be a decimal number"));
      lr.version = v;
    }
    if (auto p = ctx.param("direction")) {
      if (*p == "upstream") lr.direction = ledger::LineageDirection::kUpstream;
      else if (*p == "downstream") lr.direction = ledger::LineageDirection::kDownstream;
      else if (*p == "both") lr.direction = ledger::LineageDirection::kBoth;
      else return fail(Status::invalid_argument("direction must be upstream, downstream or both"));
    }
    if (auto p = ctx.param("depth")) {
      if (!parse_u64(*p, &v) || v == 0 || v > ledger::kMaxLineageDepth)
        return fail(Status::invalid_argument("depth must be 1.." + std::to_string(ledger::kMaxLineageDepth)));
      lr.depth = static_cast<uint32_t>(v);
    }
    if (auto p = ctx.param("limit")) {
      if (!parse_u64(*p, &v) || v == 0 || v > ledger::kMaxLineageNodes)
        return fail(Status::invalid_argument("limit must be 1.." + std::to_string(ledger::kMaxLineageNodes)));
      lr.max_nodes = static_cast<uint32_t>(v);
    }
    auto g = ledger::lineage(state, lr);
    if (!g) return fail(g.status());
    pb::LineageResponse r;
    auto fill = [](pb::LineageNode* n, const ledger::LineageNode& from) {
      n->set_dataset(from.dataset);
      n->set_version(from.version);
      n->set_depth(from.depth);
    };
    for (const auto& n : g->nodes) fill(r.add_nodes(), n);
    for (const auto& e : g->edges) {
      pb::LineageEdge* edge = r.add_edges();
      fill(edge->mutable_child(), e.child);
      fill(edge->mutable_parent(), e.parent);
    }
    r.set_truncated(g->truncated);
    return done(json(r, ctx.version));
  }
  if (starts_with(path, "/v1/digests/")) {
    auto digest = crypto::hex_decode_fixed<Hash256>(path.substr(12));
    if (!digest) return fail(Status::invalid_argument("expected a 64-digit hex SHA-256 digest"));
    auto page = page_params(ctx.query, config_.max_query_limit);
    if (!page) return fail(page.status());
    auto p = ledger::entries_by_digest(state, *digest, *page);
    if (!p) return fail(p.status());
    pb::DigestResponse r;
    r.set_digest(hex(*digest));
    for (uint64_t index : p->indexes) {
      if (!ctx.who.auditor) {
        auto e = ledger::entry_by_index(state, index);
        if (!e) return fail(e.status());
        if (!entry_view(ctx.who, std::move(*e))) continue;  // not this agency's to see
      }
      r.add_indexes(index);
    }
    r.set_next_cursor(cursor_text(p->next_cursor));
    return done(json(r, ctx.version));
  }
  if (path == "/v1/proofs/inclusion") {
    uint64_t index = 0, size = 0;
    auto pi = ctx.param("index");
    if (!pi || !parse_u64(*pi, &index)) return fail(Status::invalid_argument("index is required (decimal)"));
    if (auto ps = ctx.param("size"); ps && !parse_u64(*ps, &size))
      return fail(Status::invalid_argument("size must be decimal (0 or absent: the head)"));
    auto e = visible_entry(*pi, false);
    if (!e) return fail(e.status());
    auto proof = ledger::inclusion_proof(state, index, size);
    if (!proof) return fail(proof.status());
    pb::InclusionProofResponse r;
    r.set_index(proof->index);
    r.set_tree_size(proof->tree_size);
    r.set_entry(to_string(proof->entry_bytes));
    r.set_leaf_hash(hex(proof->leaf_hash));
    for (const auto& h : proof->path) r.add_path(hex(h));
    r.set_root(hex(proof->root));
    return done(json(r, ctx.version));
  }
  if (path == "/v1/proofs/consistency") {
    uint64_t from = 0, to = 0;
    auto pf = ctx.param("from");
    auto pt = ctx.param("to");
    if (!pf || !pt || !parse_u64(*pf, &from) || !parse_u64(*pt, &to))
      return fail(Status::invalid_argument("from and to are required (decimal tree sizes)"));
    auto proof = ledger::consistency_proof(state, from, to);
    if (!proof) return fail(proof.status());
    pb::ConsistencyProofResponse r;
    r.set_old_size(proof->old_size);
    r.set_new_size(proof->new_size);
    r.set_old_root(hex(proof->old_root));
    r.set_new_root(hex(proof->new_root));
    for (const auto& h : proof->path) r.add_path(hex(h));
    return done(json(r, ctx.version));
  }
  // /v1/blocks/{height}
  if (!ctx.who.auditor) return fail(forbidden("blocks hold every agency's transactions: auditors only"));
  uint64_t height = 0;
  if (!parse_u64(path.substr(11), &height) || height == 0)
    return fail(Status::invalid_argument("expected a block height >= 1"));
  auto b = ledger::block_by_height(state, height);
  if (!b) return fail(b.status());
  pb::BlockResponse r;
  r.set_height(height);
  r.set_block_hash(hex(b->block_hash));
  r.set_block(to_string(b->block_bytes));
  *r.mutable_header() = b->header;
  // The commit proof lets a light client (provctl audit) check the block
  // with nothing but the validator set.
  auto proof = state.get(ledger::Column::kCommitProofs, ledger::u64_key(height));
  if (!proof) return fail(proof.status());
  if (*proof) r.set_commit_proof(to_string(**proof));
  done(json(r, ctx.version));
}

void ApiHandler::submit(Ctx& ctx, const Done& done) {
  Bytes tx;
  bool wait = false;
  uint32_t timeout_ms = config_.default_wait_ms;
  std::string_view type;
  if (auto it = ctx.req.find(http::field::content_type); it != ctx.req.end()) type = sv(it->value());
  if (starts_with(type, "application/octet-stream")) {
    tx = to_bytes(ctx.req.body());
    if (auto w = ctx.param("wait")) wait = *w == "true" || *w == "1";
    if (auto t = ctx.param("timeout_ms")) {
      uint64_t ms = 0;
      if (!parse_u64(*t, &ms) || ms == 0)
        return done(ctx.error(http::status::bad_request, "bad_query", "timeout_ms must be a positive integer"));
      timeout_ms = static_cast<uint32_t>(std::min<uint64_t>(ms, config_.max_wait_ms));
    }
  } else if (starts_with(type, "application/json")) {
    pb::SubmitRequest sr;
    if (!parse_json(ctx.req.body(), &sr))
      return done(ctx.error(http::status::bad_request, "bad_json",
                            "expected {\"tx\": <base64 SignedTransaction>, \"wait\": bool, \"timeout_ms\": n}"));
    tx = to_bytes(sr.tx());
    wait = sr.wait();
    if (sr.timeout_ms() != 0) timeout_ms = sr.timeout_ms();
  } else {
    return done(ctx.error(http::status::unsupported_media_type, "unsupported_media_type",
                          "send application/json or application/octet-stream"));
  }
  if (tx.empty()) return done(ctx.error(http::status::bad_request, "empty_tx", "no transaction bytes"));
  if (timeout_ms > config_.max_wait_ms) timeout_ms = config_.max_wait_ms;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  const unsigned version = ctx.version;
  NodeService& node = node_;
  node_.submit(std::move(tx), SubmitOptions{wait, timeout_ms},
               [done, version, wait, deadline, &node](SubmitResult res) {
    auto err = [&](http::status s, std::string_view code, const std::string& m) {
      done(error_response(s, code, m, version));
    };
    switch (res.state) {
      case SubmitState::kRejected: {
        ledger::Rejection why = res.rejection.value_or(ledger::Rejection::kMalformed);
        return err(http_status_for(why), ledger::rejection_name(why), res.message);
      }
      case SubmitState::kBusy: return err(http::status::too_many_requests, "busy", res.message);
      case SubmitState::kUnavailable: return err(http::status::service_unavailable, "unavailable", res.message);
      case SubmitState::kAccepted:
      case SubmitState::kCommitted: break;
    }
    pb::SubmitResponse out;
    out.set_tx_hash(hex(res.tx_hash));
    const bool committed = res.state == SubmitState::kCommitted;
    out.set_state(committed ? "committed" : "accepted");
    out.set_committed(committed);
    if (!committed) return done(json(out, version, http::status::accepted));
    out.set_entry_index(res.entry_index);
    out.set_height(res.height);
    if (!wait) return done(json(out, version));
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    uint32_t left_ms = left.count() > 0 ? static_cast<uint32_t>(left.count()) : 0;
    node.wait_for_checkpoint(res.entry_index + 1, left_ms,
                             [done, version, out, &node](std::optional<std::string> note) mutable {
      if (note) {
        auto state = node.snapshot();
        auto receipt = state ? ledger::build_receipt(*state, out.entry_index(), *note)
                             : Result<std::string>(Status::unavailable("no state"));
        // Without a receipt the client fetches it later from /v1/receipts.
        if (receipt) out.set_receipt(*receipt);
      }
      done(json(out, version));
    });
  });
}

void ApiHandler::submit_batch(Ctx& ctx, const Done& done) {
  std::string_view type;
  if (auto it = ctx.req.find(http::field::content_type); it != ctx.req.end()) type = sv(it->value());
  if (!starts_with(type, "application/json"))
    return done(ctx.error(http::status::unsupported_media_type, "unsupported_media_type", "send application/json"));
  // The plain form is decoded directly; anything else goes through
  // protobuf's JSON mapping (batch_json.h).
  std::vector<Bytes> decoded;
  if (auto fast = parse_batch_request_fast(ctx.req.body())) {
    decoded = std::move(*fast);
  } else {
    pb::SubmitBatchRequest br;
    if (!parse_json(ctx.req.body(), &br))
      return done(ctx.error(http::status::bad_request, "bad_json",
                            "expected {\"txs\": [<base64 SignedTransaction>, ...]}"));
    decoded.reserve(static_cast<size_t>(br.txs_size()));
    for (std::string& tx : *br.mutable_txs()) {
      decoded.push_back(to_bytes(tx));
      std::string().swap(tx);
    }
  }
  const size_t n = decoded.size();
  if (n == 0) return done(ctx.error(http::status::bad_request, "empty_batch", "no transactions in \"txs\""));
  if (n > config_.max_batch_txs)
    return done(ctx.error(http::status::payload_too_large, "batch_too_large",
                          std::to_string(n) + " transactions; at most " + std::to_string(config_.max_batch_txs) +
                              " per batch"));
  // Empty entries are answered here, as the single submit answers them;
  // the rest go to the node, which keeps their order.
  std::vector<pb::SubmitBatchResult> results(n);
  std::vector<size_t> positions;
  std::vector<Bytes> txs;
  positions.reserve(n);
  txs.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (decoded[i].empty()) {
      results[i].set_tx_hash(hex(crypto::sha256(ByteView{})));
      results[i].set_state("rejected");
      results[i].set_code("empty_tx");
      results[i].set_message("no transaction bytes");
      continue;
    }
    positions.push_back(i);
    txs.push_back(std::move(decoded[i]));
  }
  const unsigned version = ctx.version;
  auto answer = [done, version](std::vector<pb::SubmitBatchResult> results) {
    pb::SubmitBatchResponse out;
    bool retry = false;
    for (pb::SubmitBatchResult& r : results) {
      retry = retry || r.state() == "busy" || r.state() == "unavailable";
      *out.add_results() = std::move(r);
    }
    std::optional<std::string> fast = print_batch_response_fast(out);
    Response res = fast ? make(http::status::ok, std::move(*fast) + "\n", "application/json", version)
                        : json(out, version);
    if (retry) res.set(http::field::retry_after, "1");
    done(std::move(res));
  };
  if (txs.empty()) return answer(std::move(results));
  node_.submit_batch(std::move(txs), [answer, results = std::move(results), positions = std::move(positions)](
                                         std::vector<SubmitResult> got) mutable {
    for (size_t k = 0; k < got.size() && k < positions.size(); ++k) {
      pb::SubmitBatchResult& r = results[positions[k]];
      r.set_tx_hash(hex(got[k].tx_hash));
      describe(got[k], &r);
    }
    answer(std::move(results));
  });
}

}  // namespace prov::node::api
