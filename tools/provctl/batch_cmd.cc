// provctl anchor --batch FILE.ndjson: read records, build the RFC 9162 tree
// over their digests, anchor its root in one AnchorRecord (batch_records =
// N), verify the receipt, and write one batch record proof per record
// (batch_proof.h, docs/receipts.md).
//
// Input: one JSON object per line (blank lines are skipped):
//   {"digest": "<64 hex>"}                  a record's SHA-256, computed elsewhere
//   {"path": "data/part-0001.csv"}          provctl hashes the file (relative
//                                           paths are relative to FILE.ndjson)
// optional keys: "id" (names the proof file: [A-Za-z0-9._-], unique),
// "dataset" (must be the batch's --dataset), "size_bytes" (with "digest").
// Any other key is an error, so a typo never silently drops data.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <set>

#include "crypto/encoding.h"
#include "crypto/keyfile.h"
#include "crypto/merkle.h"
#include "crypto/sha256.h"
#include "ledger/registry.h"
#include "ledger/tx.h"
#include "tools/provctl/batch_cmd.h"
#include "tools/provctl/batch_proof.h"
#include "tools/provctl/verified.h"

namespace prov::provctl {
namespace {

constexpr size_t kMaxLineBytes = 64 * 1024;
constexpr size_t kMaxIdBytes = 128;

struct Record {
  Hash256 digest;
  std::string id;
  uint64_t size_bytes = 0;
};

std::string dir_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

bool valid_id(const std::string& id) {
  return !id.empty() && id.size() <= kMaxIdBytes && id != "." && id != ".." &&
         id.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == std::string::npos;
}

// One NDJSON line into a Record; errors name the line.
Result<Record> parse_record(const std::string& line, size_t lineno, const std::string& base_dir,
                            const std::string& dataset) {
  const std::string at = "line " + std::to_string(lineno) + ": ";
  google::protobuf::Struct obj;
  if (!google::protobuf::util::JsonStringToMessage(line, &obj).ok())
    return Status::invalid_argument(at + "not a JSON object");
  Record r;
  bool have_digest = false, have_path = false;
  for (const auto& [key, value] : obj.fields()) {
    const bool is_str = value.kind_case() == google::protobuf::Value::kStringValue;
    if (key == "digest" && is_str) {
      std::string hex = value.string_value();
      if (hex.rfind("sha256:", 0) == 0) hex = hex.substr(7);
      auto d = crypto::hex_decode_fixed<Hash256>(hex);
      if (!d) return Status::invalid_argument(at + "\"digest\" must be 64 hex digits (SHA-256)");
      r.digest = *d;
      have_digest = true;
    } else if (key == "path" && is_str) {
      std::string p = value.string_value();
      if (!p.empty() && p[0] != '/') p = base_dir + "/" + p;
      auto d = crypto::sha256_file(p);
      if (!d) return Status(d.status().code(), at + d.status().message());
      r.digest = d->digest;
      r.size_bytes = d->size_bytes;
      have_path = true;
    } else if (key == "id" && is_str) {
      if (!valid_id(value.string_value()))
        return Status::invalid_argument(at + "\"id\" must be 1.." + std::to_string(kMaxIdBytes) +
                                        " characters of [A-Za-z0-9._-]");
      r.id = value.string_value();
    } else if (key == "dataset" && is_str) {
      if (value.string_value() != dataset)
        return Status::invalid_argument(at + "\"dataset\" is " + value.string_value() + ", the batch anchors " +
                                        dataset + " (one batch is one dataset version)");
    } else if (key == "size_bytes" && value.kind_case() == google::protobuf::Value::kNumberValue &&
               value.number_value() >= 0) {
      r.size_bytes = static_cast<uint64_t>(value.number_value());
    } else {
      return Status::invalid_argument(at + "unexpected key \"" + key +
                                      "\" (allowed: digest or path, and id, dataset, size_bytes)");
    }
  }
  if (have_digest == have_path) return Status::invalid_argument(at + "give exactly one of \"digest\" and \"path\"");
  return r;
}

Result<std::vector<Record>> read_batch(const BatchAnchorArgs& a) {
  std::ifstream in(a.batch_file, std::ios::binary);
  if (!in) return Status::not_found("cannot read " + a.batch_file);
  std::vector<Record> out;
  std::set<std::string> ids;
  std::string line;
  size_t lineno = 0;
  const std::string base = dir_of(a.batch_file);
  while (std::getline(in, line)) {
    ++lineno;
    if (line.size() > kMaxLineBytes)
      return Status::invalid_argument("line " + std::to_string(lineno) + " is longer than 64 KiB");
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (out.size() == kMaxBatchRecords)
      return Status::resource_exhausted("more than " + std::to_string(kMaxBatchRecords) +
                                        " records; split the file into several batches");
    PROV_ASSIGN_OR_RETURN(Record r, parse_record(line, lineno, base, a.dataset));
    if (!r.id.empty() && !ids.insert(r.id).second)
      return Status::invalid_argument("line " + std::to_string(lineno) + ": duplicate id \"" + r.id + "\"");
    out.push_back(std::move(r));
  }
  if (in.bad()) return Status::io_error("error reading " + a.batch_file);
  if (out.empty()) return Status::invalid_argument(a.batch_file + " holds no records");
  return out;
}

Status fill_anchor(const BatchAnchorArgs& a, ledger::v1::AnchorRecord* rec) {
  for (const auto& d : a.derived_from) {
    size_t at = d.rfind('@');
    std::string v = at == std::string::npos ? "" : d.substr(at + 1);
    if (at == std::string::npos || !ledger::dataset_id_valid(d.substr(0, at)) || v.empty() || v.size() > 19 ||
        v.find_first_not_of("0123456789") != std::string::npos || std::stoull(v) == 0)
      return Status::invalid_argument("--derived-from \"" + d + "\" must be NS/NAME@VERSION with VERSION >= 1");
    auto* ref = rec->add_derived_from();
    ref->set_dataset(d.substr(0, at));
    ref->set_version(std::stoull(v));
  }
  for (const auto& m : a.meta) {
    size_t eq = m.find('=');
    if (eq == std::string::npos || eq == 0) return Status::invalid_argument("--meta \"" + m + "\" must be KEY=VALUE");
    auto* e = rec->add_meta();
    e->set_key(m.substr(0, eq));
    e->set_value(m.substr(eq + 1));
  }
  return Status::ok();
}

}  // namespace

int run_anchor_batch(const Context& ctx, const BatchAnchorArgs& a) {
  if (!ledger::dataset_id_valid(a.dataset))
    return usage_error(ctx, "--dataset \"" + a.dataset + "\" must be NS/NAME in your agency's namespace");
  auto records = read_batch(a);
  if (!records) return report(ctx, records.status());
  auto s = open_session(ctx, a.passphrase, true);
  if (!s) return report(ctx, s.status());
  if (s->home.agency.empty())
    return report(ctx, Status::invalid_argument("provctl.conf names no agency (add `agency = <id>`)"));

  // Leaf inputs are the records' 32 digest bytes, in file order.
  crypto::merkle::MemoryTree tree;
  uint64_t total_bytes = 0;
  for (const auto& r : *records) {
    tree.append(r.digest);
    total_bytes += r.size_bytes;
  }
  ledger::v1::TransactionBody body = new_transaction_body(s->genesis.chain_id(), s->home.agency);
  ledger::v1::AnchorRecord* rec = body.mutable_anchor();
  rec->set_dataset(a.dataset);
  rec->set_version(a.version);
  rec->set_digest(to_string(tree.root()));
  rec->set_size_bytes(total_bytes);
  rec->set_media_type(a.media_type);
  rec->set_batch_records(tree.size());
  if (Status st = fill_anchor(a, rec); !st.is_ok()) return usage_error(ctx, st.message());
  Bytes tx = ledger::sign_transaction(body, *s->key);

  std::string receipt;
  auto v = submit_and_verify(*s->client, s->genesis, tx, &receipt);
  if (!v) return report(ctx, v.status());
  const std::string receipt_path = a.receipt.empty() ? a.batch_file + ".tlog-proof" : a.receipt;
  if (Status w = crypto::write_file_atomic(receipt_path, as_bytes(receipt), 0644, true); !w.is_ok())
    return report(ctx, w);
  const std::string dir = a.proofs_dir.empty() ? a.batch_file + ".proofs" : a.proofs_dir;
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    return report(ctx, Status::io_error("cannot create directory " + dir + ": " + std::strerror(errno)));
  for (uint64_t i = 0; i < tree.size(); ++i) {
    const Record& r = (*records)[i];
    BatchProof p{r.digest, i, tree.size(), tree.inclusion_proof(i, tree.size()), receipt};
    const std::string name = dir + "/" + (r.id.empty() ? std::to_string(i) : r.id) + ".batch-proof";
    if (Status w = crypto::write_file_atomic(name, as_bytes(format_batch_proof(p)), 0644, true); !w.is_ok())
      return report(ctx, w);
  }
  // Check one proof end to end the way an auditor would.
  {
    BatchProof p{(*records)[0].digest, 0, tree.size(), tree.inclusion_proof(0, tree.size()), receipt};
    auto check = verify_batch_proof(format_batch_proof(p), s->genesis);
    if (!check) return report(ctx, Status::verification_failed("batch record proof: " + check.status().message()));
  }
  uint64_t version = 0;
  for (const auto& l : v->entry.links())
    if (l.dataset() == a.dataset) version = l.version();
  if (ctx.json) {
    std::cout << JsonObject()
                     .boolean("ok", true)
                     .str("dataset", a.dataset)
                     .num("version", static_cast<int64_t>(version))
                     .num("records", static_cast<int64_t>(tree.size()))
                     .str("batch_root", crypto::hex_encode(tree.root()))
                     .num("entry_index", static_cast<int64_t>(v->index))
                     .num("height", static_cast<int64_t>(v->entry.height()))
                     .num("checkpoint_size", static_cast<int64_t>(v->checkpoint.checkpoint.size))
                     .num("signatures", static_cast<int64_t>(v->checkpoint.signers.size()))
                     .str("receipt", receipt_path)
                     .str("proofs_dir", dir)
                     .dump()
              << "\n";
    return static_cast<int>(Exit::kOk);
  }
  std::cout << "anchored batch " << a.dataset << "@" << version << ": " << tree.size() << " records\n"
            << "root:    sha256:" << crypto::hex_encode(tree.root()) << " (RFC 9162 over the record digests)\n"
            << "entry:   " << v->index << " in block " << v->entry.height() << "\n"
            << "receipt: " << receipt_path << " (verified: checkpoint size " << v->checkpoint.checkpoint.size << ", "
            << v->checkpoint.signers.size() << " of " << s->genesis.validators_size() << " validator signatures)\n"
            << "proofs:  " << dir << "/<id or line number>.batch-proof (one per record; check one with\n"
            << "         provctl receipt verify PROOF --file RECORD)\n";
  return static_cast<int>(Exit::kOk);
}

}  // namespace prov::provctl
