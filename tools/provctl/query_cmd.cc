// provctl history, lineage and status (docs/cli.md). Every entry shown by
// history and lineage is proven present: its receipt is fetched and verified
// against the genesis. Completeness is not yet proven, and the output says so.
#include <iostream>
#include <map>
#include <memory>

#include "crypto/encoding.h"
#include "ledger/registry.h"
#include "ledger/tx.h"
#include "node/api/api.pb.h"
#include "tools/provctl/common.h"
#include "tools/provctl/lineage_format.h"
#include "tools/provctl/verified.h"

namespace prov::provctl {
namespace {

namespace api = node::api::v1;

constexpr uint32_t kHistoryPageLimit = 1000;
constexpr uint32_t kHistoryMaxItems = 100000;
constexpr uint32_t kLineageMaxNodes = 1000;

struct HistoryOptions {
  std::string dataset;
  uint32_t limit = 100;
  PassphraseOptions passphrase;
};

struct LineageOptions {
  std::string ref;
  std::string direction = "upstream";
  uint32_t depth = 5;
  std::string format = "text";
  PassphraseOptions passphrase;
};

// Up to `limit` history items of `dataset`, oldest first.
Result<std::vector<api::HistoryItem>> history_items(NodeClient& client, const std::string& dataset, uint32_t limit,
                                                    bool* more) {
  std::vector<api::HistoryItem> out;
  std::string cursor;
  *more = false;
  while (out.size() < limit) {
    uint32_t page = std::min<uint32_t>(kHistoryPageLimit, limit - static_cast<uint32_t>(out.size()));
    std::string target = "/v1/datasets/" + dataset + "/history?order=oldest&limit=" + std::to_string(page);
    if (!cursor.empty()) target += "&cursor=" + cursor;
    PROV_ASSIGN_OR_RETURN(auto r, get_json<api::HistoryResponse>(client, target, true, "history of " + dataset));
    for (const auto& i : r.items()) out.push_back(i);
    if (r.next_cursor().empty() || r.items().empty()) return out;
    cursor = r.next_cursor();
  }
  *more = !cursor.empty();
  return out;
}

// The link of `dataset` in a verified entry, or nullptr.
const ledger::v1::DatasetLink* link_of(const EntryFacts& f, const std::string& dataset) {
  for (const auto& l : f.links)
    if (l.dataset() == dataset) return &l;
  return nullptr;
}

int run_history(const Context& ctx, const HistoryOptions& o) {
  if (!ledger::dataset_id_valid(o.dataset)) return usage_error(ctx, "\"" + o.dataset + "\" is not a dataset id NS/NAME");
  if (o.limit == 0 || o.limit > kHistoryMaxItems)
    return usage_error(ctx, "--limit must be 1.." + std::to_string(kHistoryMaxItems));
  auto s = open_session(ctx, o.passphrase, true);
  if (!s) return report(ctx, s.status());
  bool more = false;
  auto items = history_items(*s->client, o.dataset, o.limit, &more);
  if (!items) return report(ctx, items.status());
  if (items->empty()) return report(ctx, Status::not_found("no entries for dataset " + o.dataset));
  std::vector<EntryFacts> facts;
  for (size_t i = 0; i < items->size(); ++i) {
    const auto& it = (*items)[i];
    auto r = fetch_verified_receipt(*s->client, s->genesis, it.index(), nullptr);
    if (!r) return report(ctx, r.status());
    auto f = entry_facts(r->entry, s->genesis);
    if (!f) return report(ctx, f.status());
    const auto* link = link_of(*f, o.dataset);
    const std::string at = "entry " + std::to_string(it.index());
    if (!link || link->version() != it.version() || (f->kind != it.kind()))
      return report(ctx, Status::verification_failed("the node listed " + at + " as " + it.kind() + " of " + o.dataset +
                                                     "@" + std::to_string(it.version()) + ", but its verified bytes say otherwise"));
    // Each entry names the dataset's previous entry: a gap would show here.
    const bool want_prev = i > 0;
    if (link->has_prev() != want_prev || (want_prev && link->prev_index() != (*items)[i - 1].index()))
      return report(ctx, Status::verification_failed(
                             at + " names " +
                             (link->has_prev() ? "entry " + std::to_string(link->prev_index()) : std::string("no entry")) +
                             " as the previous entry of " + o.dataset + ": the node's history has a gap or is reordered"));
    facts.push_back(std::move(*f));
  }
  if (ctx.json) {
    std::vector<std::string> js;
    for (const auto& f : facts) js.push_back(entry_json(f));
    std::cout << JsonObject()
                     .boolean("ok", true)
                     .str("dataset", o.dataset)
                     .raw("entries", json_array(js))
                     .boolean("more", more)
                     .boolean("gap_free_from_first", true)
                     .boolean("complete_proven", false)
                     .dump()
              << "\n";
    return static_cast<int>(Exit::kOk);
  }
  std::cout << "history of " << o.dataset << ": " << facts.size() << " entr" << (facts.size() == 1 ? "y" : "ies")
            << ", each verified (inclusion + validator quorum)\n";
  for (const auto& f : facts) std::cout << entry_text(f, "  ") << "\n";
  if (more) std::cout << "(more entries exist; raise --limit)\n";
  std::cout << "chain: each entry names the one before it, so no entry between the first and the last shown\n"
               "       was left out.\n"
            << kCompletenessNote << "\n";
  return static_cast<int>(Exit::kOk);
}

// Finds and verifies the anchor entry of dataset@version via the dataset's
// history; caches each dataset's history.
class AnchorFinder {
 public:
  AnchorFinder(ReadSession& s) : s_(s) {}

  // Fills `v` (verified or not, with the reason).
  void resolve(LineageVertex& v, std::map<std::pair<std::string, uint64_t>, EntryFacts>& facts) {
    auto hist = history(v.dataset);
    if (!hist) {
      v.unverified_why = hist.status().message();
      return;
    }
    const api::HistoryItem* found = nullptr;
    for (const auto& it : **hist)
      if (it.kind() == "anchor" && it.version() == v.version) found = &it;
    if (!found) {
      v.unverified_why = "the node lists no anchor of this version";
      return;
    }
    auto r = fetch_verified_receipt(*s_.client, s_.genesis, found->index(), nullptr);
    if (!r) {
      v.unverified_why = r.status().message();
      return;
    }
    auto f = entry_facts(r->entry, s_.genesis);
    const ledger::v1::DatasetLink* link = f ? link_of(*f, v.dataset) : nullptr;
    if (!f || !f->body.has_anchor() || f->body.anchor().dataset() != v.dataset || !link ||
        link->version() != v.version || !f->signature_valid) {
      v.unverified_why = "the node named entry " + std::to_string(found->index()) + ", which does not anchor it";
      bad_ = true;
      return;
    }
    v.verified = true;
    v.entry_index = f->index;
    v.height = f->height;
    v.time_ms = f->block_time_ms;
    v.agency = f->agency;
    v.signer = f->signer_name.empty() ? f->signer_b64 : f->signer_name;
    v.digest_hex = crypto::hex_encode(as_bytes(f->body.anchor().digest()));
    v.size_bytes = f->body.anchor().size_bytes();
    v.media_type = f->body.anchor().media_type();
    facts.emplace(std::make_pair(v.dataset, v.version), std::move(*f));
  }
  bool node_lied() const { return bad_; }

 private:
  Result<const std::vector<api::HistoryItem>*> history(const std::string& dataset) {
    auto it = cache_.find(dataset);
    if (it == cache_.end()) {
      bool more = false;
      auto h = history_items(*s_.client, dataset, kHistoryMaxItems, &more);
      if (!h) return h.status();
      it = cache_.emplace(dataset, std::move(*h)).first;
    }
    return &it->second;
  }

  ReadSession& s_;
  std::map<std::string, std::vector<api::HistoryItem>> cache_;
  bool bad_ = false;
};

int run_lineage(const Context& ctx, const LineageOptions& o) {
  std::string dataset = o.ref;
  uint64_t version = 0;
  if (size_t at = o.ref.rfind('@'); at != std::string::npos) {
    dataset = o.ref.substr(0, at);
    const std::string v = o.ref.substr(at + 1);
    if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || v.size() > 19)
      return usage_error(ctx, "\"" + o.ref + "\" must be NS/NAME or NS/NAME@VERSION");
    version = std::stoull(v);
  }
  if (!ledger::dataset_id_valid(dataset)) return usage_error(ctx, "\"" + dataset + "\" is not a dataset id NS/NAME");
  if (o.depth < 1 || o.depth > 32) return usage_error(ctx, "--depth must be 1..32");
  auto s = open_session(ctx, o.passphrase, true);
  if (!s) return report(ctx, s.status());
  std::string target = "/v1/datasets/" + dataset + "/lineage?version=" + std::to_string(version) +
                       "&direction=" + o.direction + "&depth=" + std::to_string(o.depth) +
                       "&limit=" + std::to_string(kLineageMaxNodes);
  auto r = get_json<api::LineageResponse>(*s->client, target, true, "lineage of " + o.ref);
  if (!r) return report(ctx, r.status());
  if (r->nodes().empty()) return report(ctx, Status::not_found("no lineage for " + o.ref));

  LineageView g;
  g.chain_id = s->genesis.chain_id();
  g.direction = o.direction;
  g.depth = o.depth;
  g.truncated = r->truncated();
  std::map<std::pair<std::string, uint64_t>, size_t> pos;
  for (const auto& n : r->nodes()) {
    if (pos.count({n.dataset(), n.version()})) continue;
    pos[{n.dataset(), n.version()}] = g.vertices.size();
    LineageVertex v;
    v.dataset = n.dataset();
    v.version = n.version();
    v.depth = n.depth();
    g.vertices.push_back(std::move(v));
  }
  if (version && (g.vertices[0].dataset != dataset || g.vertices[0].version != version))
    return report(ctx, Status::verification_failed("the node's lineage does not start at " + o.ref));
  AnchorFinder finder(*s);
  std::map<std::pair<std::string, uint64_t>, EntryFacts> facts;
  for (auto& v : g.vertices) finder.resolve(v, facts);
  if (finder.node_lied())
    return report(ctx, Status::verification_failed("the node named entries that do not anchor the versions it claimed"));
  // An edge stands only if the child's verified anchor lists the parent.
  for (const auto& e : r->edges()) {
    auto c = pos.find({e.child().dataset(), e.child().version()});
    auto p = pos.find({e.parent().dataset(), e.parent().version()});
    if (c == pos.end() || p == pos.end())
      return report(ctx, Status::verification_failed("the node's lineage has an edge to a node it did not list"));
    auto f = facts.find(c->first);
    if (f != facts.end()) {
      bool listed = false;
      for (const auto& d : f->second.body.anchor().derived_from())
        listed |= d.dataset() == p->first.first && d.version() == p->first.second;
      if (!listed)
        return report(ctx, Status::verification_failed(
                               "the node claims " + vertex_name(g.vertices[c->second]) + " was derived from " +
                               vertex_name(g.vertices[p->second]) + ", but its verified anchor does not say so"));
    }
    g.arcs.push_back({c->second, p->second});
  }
  size_t unverified = 0;
  for (const auto& v : g.vertices) unverified += !v.verified;

  if (o.format == "prov-json") {
    std::cout << lineage_prov_json(g);
  } else if (o.format == "dot") {
    std::cout << lineage_dot(g);
  } else if (o.format == "json" || ctx.json) {
    std::cout << lineage_json(g) << "\n";
  } else {
    std::cout << lineage_text(g) << kCompletenessNote << "\n";
  }
  if (o.format != "text" || ctx.json) {
    std::cerr << "provctl: " << (g.vertices.size() - unverified) << " of " << g.vertices.size()
              << " versions verified; completeness is not yet proven\n";
  }
  // A version that could not be verified is a failed verification, though
  // the graph is still printed for the reader.
  return static_cast<int>(unverified ? Exit::kFailed : Exit::kOk);
}

int run_status(const Context& ctx) {
  auto s = open_session(ctx, {}, false);
  if (!s) return report(ctx, s.status());
  std::vector<std::string> js;
  size_t reached = 0;
  if (!ctx.json) std::cout << "chain " << s->genesis.chain_id() << " — nodes (as each reports itself, not verified):\n";
  for (const auto& url : s->home.nodes) {
    NodeClient one({url}, s->genesis.chain_id(), std::nullopt);
    auto st = get_json<api::StatusResponse>(one, "/v1/status", false, "status");
    if (!st) {
      if (ctx.json) js.push_back(JsonObject().str("node", url).boolean("reachable", false).str("error", st.status().message()).dump());
      else std::cout << "  " << url << "  unreachable: " << st.status().message() << "\n";
      continue;
    }
    ++reached;
    if (ctx.json) {
      js.push_back(JsonObject()
                       .str("node", url)
                       .boolean("reachable", true)
                       .str("name", st->node_name())
                       .str("sync_state", st->sync_state())
                       .num("height", static_cast<int64_t>(st->height()))
                       .num("log_size", static_cast<int64_t>(st->log_size()))
                       .num("checkpoint_size", static_cast<int64_t>(st->checkpoint_size()))
                       .num("peers_connected", st->peers_connected())
                       .num("peers_configured", st->peers_configured())
                       .num("mempool_txs", static_cast<int64_t>(st->mempool_txs()))
                       .str("version", st->version())
                       .dump());
    } else {
      std::cout << "  " << url << "  " << st->node_name() << " " << st->sync_state() << " height " << st->height()
                << " log " << st->log_size() << " checkpoint " << st->checkpoint_size() << " peers "
                << st->peers_connected() << "/" << st->peers_configured() << " mempool " << st->mempool_txs()
                << " v" << st->version() << "\n";
    }
  }
  if (reached == 0) return report(ctx, Status::unavailable("no node of " + s->home.dir + "/provctl.conf answered"));
  std::string raw;
  auto cp = fetch_checkpoint(*s->client, s->genesis, &raw);
  if (ctx.json) {
    JsonObject out;
    out.boolean("ok", cp.is_ok()).str("chain_id", s->genesis.chain_id()).raw("nodes", json_array(js));
    if (cp) out.raw("checkpoint", checkpoint_json(*cp, s->genesis));
    else out.str("checkpoint_error", cp.status().message());
    std::cout << out.dump() << "\n";
  } else if (cp) {
    std::cout << "verified checkpoint: size " << cp->checkpoint.size << ", root "
              << crypto::hex_encode(cp->checkpoint.root) << ", " << cp->signers.size() << " of "
              << s->genesis.validators_size() << " validator signatures\n";
  } else {
    std::cerr << "provctl: " << cp.status().message() << "\n";
  }
  return static_cast<int>(cp ? Exit::kOk : Exit::kFailed);
}

}  // namespace

void add_query_commands(CLI::App& app, Context& ctx) {
  auto h = std::make_shared<HistoryOptions>();
  CLI::App* hist = app.add_subcommand("history", "list a dataset's versions and access events, each verified");
  hist->add_option("dataset", h->dataset, "dataset id NS/NAME")->required();
  hist->add_option("--limit", h->limit, "at most this many entries, oldest first")->capture_default_str();
  add_passphrase_options(hist, h->passphrase, "the client key");
  hist->footer(
      "Example:\n"
      "  PROV_HOME=./localnet provctl history demo/sales\n"
      "Each entry is proven present (receipt verified); completeness is not yet proven.");
  hist->callback([&ctx, h] { ctx.run = [&ctx, h] { return run_history(ctx, *h); }; });

  auto l = std::make_shared<LineageOptions>();
  CLI::App* lin = app.add_subcommand("lineage", "walk a dataset version's derivations up and down, each verified");
  lin->add_option("dataset", l->ref, "NS/NAME or NS/NAME@VERSION (default: the latest version)")->required();
  lin->add_option("--direction", l->direction, "upstream (sources), downstream (derived), or both")
      ->check(CLI::IsMember({"upstream", "downstream", "both"}))
      ->capture_default_str();
  lin->add_option("--depth", l->depth, "edges to follow, 1..32")->capture_default_str();
  lin->add_option("--format", l->format, "text, json, dot (Graphviz) or prov-json (W3C PROV-JSON)")
      ->check(CLI::IsMember({"text", "json", "dot", "prov-json"}))
      ->capture_default_str();
  add_passphrase_options(lin, l->passphrase, "the client key");
  lin->footer(
      "Example:\n"
      "  provctl lineage demo/model@1 --direction upstream --depth 3\n"
      "  provctl lineage demo/sales --direction downstream --format prov-json > lineage.json\n"
      "  provctl lineage demo/model --format dot | dot -Tsvg > lineage.svg\n"
      "Exit 1 if any version shown could not be verified (it is marked NOT VERIFIED).");
  lin->callback([&ctx, l] { ctx.run = [&ctx, l] { return run_lineage(ctx, *l); }; });

  CLI::App* st = app.add_subcommand("status", "show each node's state and the verified checkpoint");
  st->footer(
      "Example:\n"
      "  PROV_HOME=./localnet provctl status\n"
      "Exit 0 if a node answered and its checkpoint verifies, 1 if not, 3 if no node answered.");
  st->callback([&ctx] { ctx.run = [&ctx] { return run_status(ctx); }; });
}

}  // namespace prov::provctl
