// br2k eth ...: a small Ethereum toolbox whose verbs and output follow Foundry's cast
// (docs/eth.md): keccak, sig, calldata, abi-encode, abi-decode, to-checksum, address-of,
// sign-tx, send, call, receipt, logs.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "br2k/eth/abi.h"
#include "br2k/eth/keccak.h"
#include "br2k/eth/key.h"
#include "br2k/eth/rpc_client.h"
#include "br2k/eth/rpc_transport.h"
#include "br2k/eth/service_registry.h"
#include "br2k/eth/transaction.h"
#include "br2k/eth/tx_sender.h"
#include "commands.h"
#include "run_dir.h"

namespace br2k::cli {
namespace {

using namespace br2k::eth;

constexpr const char* kDefaultRpc = "http://127.0.0.1:8545";

int Fail(const Status& s) {
  std::fprintf(stderr, "br2k: %s\n", s.message().c_str());
  return 1;
}

Deadline CmdDeadline(int seconds) {
  return Deadline::After(std::chrono::seconds(seconds));
}

// The chain of the `br2k up` running in $BR2K_RUN_DIR (or ./.br2k), if any.
std::optional<ChainState> UpChain() {
  auto s = LoadRunStateIfAny(ResolveRunDir(""));
  if (!s.ok() || !*s || !(*s)->chain) return std::nullopt;
  return (*s)->chain;
}

// --rpc-url when given, else the running `br2k up`'s node, else kDefaultRpc.
std::string RpcOrDefault(const std::string& rpc) {
  if (!rpc.empty()) return rpc;
  auto up = UpChain();
  return up ? up->rpc_url : kDefaultRpc;
}

// The key flags, or the running `br2k up`'s owner key when none is given and `rpc` is its node.
KeySource KeyOrUpOwner(const KeySource& k, const std::string& rpc) {
  if (!k.private_key.empty() || !k.key_file.empty() || !k.key_env.empty() || !k.keystore.empty()) {
    return k;
  }
  auto up = UpChain();
  if (!up || up->rpc_url != rpc) return k;
  KeySource owner = k;
  owner.key_file = up->owner_key_file;
  return owner;
}

void AddKeyOptions(CLI::App* cmd, KeySource& k) {
  cmd->add_option("--private-key", k.private_key,
                  "Signing key as hex (default: the running `br2k up`'s owner key)")
      ->envname("BR2K_ETH_KEY");
  cmd->add_option("--key-file", k.key_file, "File holding the signing key as hex");
  cmd->add_option("--key-env", k.key_env, "Environment variable holding the signing key");
  cmd->add_option("--keystore", k.keystore, "Web3 v3 keystore file");
  cmd->add_option("--password", k.password, "Keystore password");
  cmd->add_option("--password-file", k.password_file, "File whose first line is the password");
}

// "0x..." is hex; anything else is taken as UTF-8 text (cast keccak's rule).
Bytes DataArg(const std::string& s) {
  if (s.starts_with("0x") || s.starts_with("0X")) {
    if (auto b = FromHex(s); b.ok()) return *b;
  }
  return ToBytes(s);
}

Result<std::vector<AbiValue>> ParseArgs(const std::vector<AbiType>& types,
                                        const std::vector<std::string>& args) {
  if (types.size() != args.size()) {
    return InvalidArgumentError("expected " + std::to_string(types.size()) + " argument(s), got " +
                                std::to_string(args.size()));
  }
  std::vector<AbiValue> out;
  for (size_t i = 0; i < types.size(); ++i) {
    BR2K_ASSIGN_OR_RETURN(AbiValue v, ParseAbiValue(types[i], args[i]));
    out.push_back(std::move(v));
  }
  return out;
}

Result<Bytes> Calldata(const std::string& sig, const std::vector<std::string>& args) {
  if (sig.empty()) return Bytes{};
  if (sig.starts_with("0x")) {
    if (!args.empty()) return InvalidArgumentError("raw calldata takes no arguments");
    return FromHex(sig);
  }
  BR2K_ASSIGN_OR_RETURN(AbiFunction f, ParseFunctionSignature(sig));
  BR2K_ASSIGN_OR_RETURN(auto values, ParseArgs(f.inputs, args));
  return f.EncodeCall(values);
}

// Custom errors `eth call` and `eth send` decode by selector: the ServiceRegistry's (its ABI is
// compiled in). Error(string) and Panic(uint256) are always decoded.
const std::vector<AbiFunction>& KnownErrors() {
  return ServiceRegistry::Abi().errors;
}

Result<std::shared_ptr<RpcClient>> Client(const std::string& url) {
  BR2K_ASSIGN_OR_RETURN(auto t, MakeTransport(url, CmdDeadline(10)));
  return std::make_shared<RpcClient>(t);
}

std::string QuantityToDecimal(const nlohmann::json& j) {
  auto q = ParseQuantity(j);
  return q.ok() ? q->ToDecimal() : (j.is_null() ? "" : j.dump());
}

// cast's receipt layout: one "key<padding>value" line per field.
std::string PrettyReceipt(const nlohmann::json& r) {
  auto str = [&](const char* k) {
    const auto& v = r.value(k, nlohmann::json());
    return v.is_string() ? v.get<std::string>() : (v.is_null() ? std::string() : v.dump());
  };
  auto num = [&](const char* k) { return QuantityToDecimal(r.value(k, nlohmann::json())); };
  auto addr = [&](const char* k) {  // cast prints addresses checksummed
    auto a = ParseAddressJson(r.value(k, nlohmann::json()));
    return a.ok() ? a->ToChecksum() : str(k);
  };
  std::string status = num("status");
  status += status == "1" ? " (success)" : status == "0" ? " (failed)" : "";
  std::vector<std::pair<std::string, std::string>> rows = {
      {"blockHash", str("blockHash")},
      {"blockNumber", num("blockNumber")},
      {"contractAddress", addr("contractAddress")},
      {"cumulativeGasUsed", num("cumulativeGasUsed")},
      {"effectiveGasPrice", num("effectiveGasPrice")},
      {"from", addr("from")},
      {"gasUsed", num("gasUsed")},
      {"logs", r.value("logs", nlohmann::json::array()).dump()},
      {"logsBloom", str("logsBloom")},
      {"root", str("root")},
      {"status", status},
      {"transactionHash", str("transactionHash")},
      {"transactionIndex", num("transactionIndex")},
      {"type", num("type")},
      {"blobGasPrice", num("blobGasPrice")},
      {"blobGasUsed", num("blobGasUsed")},
      {"to", addr("to")},
  };
  std::string out;
  for (const auto& [k, v] : rows) {
    out += k;
    out += std::string(k.size() < 20 ? 20 - k.size() : 1, ' ');
    out += v + "\n";
  }
  return out;
}

std::string PrettyLog(const nlohmann::json& l) {
  std::string out = "- address: " + l.value("address", "") + "\n";
  out += "  blockHash: " + l.value("blockHash", "") + "\n";
  out += "  blockNumber: " + QuantityToDecimal(l.value("blockNumber", nlohmann::json())) + "\n";
  out += "  data: " + l.value("data", "") + "\n";
  out += "  logIndex: " + QuantityToDecimal(l.value("logIndex", nlohmann::json())) + "\n";
  out += std::string("  removed: ") + (l.value("removed", false) ? "true" : "false") + "\n";
  out += "  topics: [\n";
  for (const auto& t : l.value("topics", nlohmann::json::array())) {
    out += "  \t" + t.get<std::string>() + "\n";
  }
  out += "  ]\n";
  out += "  transactionHash: " + l.value("transactionHash", "") + "\n";
  out += "  transactionIndex: " + QuantityToDecimal(l.value("transactionIndex", nlohmann::json())) +
         "\n";
  return out;
}

Result<nlohmann::json> RawReceipt(RpcClient& c, const Hash& h, Deadline d) {
  BR2K_ASSIGN_OR_RETURN(auto j,
                        c.Call("eth_getTransactionReceipt", nlohmann::json::array({h.ToHex()}), d));
  return j;
}

int PrintReceipt(const nlohmann::json& r, const std::string& field, bool json) {
  if (!field.empty()) {
    if (!r.contains(field)) return Fail(NotFoundError("receipt has no field " + field));
    const auto& v = r[field];
    if (v.is_string() && v.get<std::string>().starts_with("0x") && ParseQuantity(v).ok() &&
        field != "transactionHash" && field != "blockHash" && field != "from" && field != "to" &&
        field != "contractAddress" && field != "logsBloom") {
      std::cout << ParseQuantity(v)->ToDecimal() << "\n";
    } else {
      std::cout << (v.is_string() ? v.get<std::string>() : v.dump()) << "\n";
    }
    return 0;
  }
  if (json) {
    std::cout << r.dump() << "\n";
  } else {
    std::cout << "\n" << PrettyReceipt(r);
  }
  return 0;
}

struct TxFlags {
  std::string to;
  std::string sig;
  std::vector<std::string> args;
  std::string value = "0";
  std::optional<uint64_t> nonce;
  std::optional<uint64_t> gas_limit;
  std::optional<uint64_t> chain_id;
  std::string gas_price;
  std::string priority_fee;
  bool legacy = false;
  std::string rpc;  // "" = RpcOrDefault
  KeySource key;
  bool json = false;
  bool async = false;
  int timeout = 120;
};

void AddTxOptions(CLI::App* cmd, TxFlags& f) {
  cmd->add_option("--value", f.value, "Wei to send (decimal or 0x-hex)");
  cmd->add_option("--nonce", f.nonce, "Nonce (default: the account's pending count)");
  cmd->add_option("--gas-limit", f.gas_limit, "Gas limit (default: estimate + 25%)");
  cmd->add_option("--chain,--chain-id", f.chain_id, "Chain id (checked against the node)");
  cmd->add_option("--gas-price", f.gas_price, "Legacy: gas price; EIP-1559: max fee per gas (wei)");
  cmd->add_option("--priority-gas-price", f.priority_fee, "EIP-1559 max priority fee (wei)");
  cmd->add_flag("--legacy", f.legacy, "Send a legacy (EIP-155) transaction");
  AddKeyOptions(cmd, f.key);
}

Result<SendOptions> ToSendOptions(const TxFlags& f) {
  SendOptions o;
  BR2K_ASSIGN_OR_RETURN(o.value, U256::FromString(f.value));
  o.gas_limit = f.gas_limit;
  o.legacy = f.legacy;
  o.errors = KnownErrors();
  o.nonce = f.nonce;
  if (!f.gas_price.empty()) {
    BR2K_ASSIGN_OR_RETURN(U256 p, U256::FromString(f.gas_price));
    o.max_fee_per_gas = p;
  }
  if (!f.priority_fee.empty()) {
    BR2K_ASSIGN_OR_RETURN(U256 p, U256::FromString(f.priority_fee));
    o.max_priority_fee_per_gas = p;
  }
  return o;
}

Result<std::optional<Address>> ToAddress(const std::string& to) {
  if (to.empty()) return std::optional<Address>();
  BR2K_ASSIGN_OR_RETURN(Address a, Address::Parse(to));
  return std::optional<Address>(a);
}

// sign-tx works offline when nonce, gas limit, chain id and fees are all given.
int SignTx(const TxFlags& flags) {
  TxFlags f = flags;
  f.rpc = RpcOrDefault(flags.rpc);
  f.key = KeyOrUpOwner(flags.key, f.rpc);
  auto key = LoadKey(f.key);
  if (!key.ok()) return Fail(key.status());
  auto to = ToAddress(f.to);
  if (!to.ok()) return Fail(to.status());
  auto data = Calldata(f.sig, f.args);
  if (!data.ok()) return Fail(data.status());
  auto opts = ToSendOptions(f);
  if (!opts.ok()) return Fail(opts.status());
  bool offline = f.nonce && f.gas_limit && f.chain_id && !f.gas_price.empty() &&
                 (f.legacy || !f.priority_fee.empty());
  if (offline) {
    Transaction tx;
    tx.type = f.legacy ? Transaction::Type::kLegacy : Transaction::Type::kEip1559;
    tx.chain_id = *f.chain_id;
    tx.nonce = *f.nonce;
    tx.gas_limit = *f.gas_limit;
    tx.to = *to;
    tx.value = opts->value;
    tx.data = *data;
    tx.gas_price = *opts->max_fee_per_gas;
    tx.max_fee_per_gas = *opts->max_fee_per_gas;
    if (opts->max_priority_fee_per_gas)
      tx.max_priority_fee_per_gas = *opts->max_priority_fee_per_gas;
    std::cout << ToHex(SignTransaction(tx, *key).raw) << "\n";
    return 0;
  }
  auto client = Client(f.rpc);
  if (!client.ok()) return Fail(client.status());
  Deadline d = CmdDeadline(f.timeout);
  auto sender = TxSender::Create(*client, *key, f.chain_id, d);
  if (!sender.ok()) return Fail(sender.status());
  auto tx = (*sender)->Prepare(*to, *data, *opts, d);
  if (!tx.ok()) return Fail(tx.status());
  std::cout << ToHex(tx->raw) << "\n";
  return 0;
}

int Send(const TxFlags& flags) {
  TxFlags f = flags;
  f.rpc = RpcOrDefault(flags.rpc);
  f.key = KeyOrUpOwner(flags.key, f.rpc);
  auto key = LoadKey(f.key);
  if (!key.ok()) return Fail(key.status());
  auto to = ToAddress(f.to);
  if (!to.ok()) return Fail(to.status());
  auto data = Calldata(f.sig, f.args);
  if (!data.ok()) return Fail(data.status());
  auto opts = ToSendOptions(f);
  if (!opts.ok()) return Fail(opts.status());
  auto client = Client(f.rpc);
  if (!client.ok()) return Fail(client.status());
  Deadline d = CmdDeadline(f.timeout);
  auto sender = TxSender::Create(*client, *key, f.chain_id, d);
  if (!sender.ok()) return Fail(sender.status());
  auto tx = (*sender)->Prepare(*to, *data, *opts, d);
  if (!tx.ok()) return Fail(tx.status());
  auto h = (*sender)->Broadcast(*tx, d);
  if (!h.ok()) return Fail(h.status());
  if (f.async) {
    std::cout << h->ToHex() << "\n";
    return 0;
  }
  auto r = (*client)->WaitForReceipt(*h, d);
  if (!r.ok()) return Fail(r.status());
  auto raw = RawReceipt(**client, *h, d);
  if (!raw.ok()) return Fail(raw.status());
  if (int printed = PrintReceipt(*raw, "", f.json); printed != 0) return printed;
  if (!r->success) {  // mined but reverted: say so, and why (the call replayed at its block)
    CallRequest req{key->address(), *to, *data, opts->value, tx->tx.gas_limit};
    auto replay = (*client)->EthCall(req, d, KnownErrors(), U256(r->block_number).ToQuantity());
    std::string why = replay.ok() && replay->reverted ? ": " + replay->revert.ToString() : "";
    return Fail(AbortedError("transaction " + h->ToHex() + " reverted (receipt status 0)" + why));
  }
  return 0;
}

}  // namespace

void RegisterEthCommands(CLI::App& app) {
  CLI::App* eth =
      app.add_subcommand("eth", "Ethereum toolbox (output as Foundry's cast prints it)");
  eth->require_subcommand(1);

  {
    auto data = std::make_shared<std::string>();
    auto* c = eth->add_subcommand("keccak", "Keccak-256 of 0x-hex data or of a UTF-8 string");
    c->add_option("data", *data, "Hex (0x...) or text")->required();
    c->callback([data] {
      std::cout << Keccak256(DataArg(*data)).ToHex() << "\n";
      std::exit(0);
    });
  }
  {
    auto sig = std::make_shared<std::string>();
    auto* c = eth->add_subcommand("sig", "Function selector of a signature");
    c->add_option("sig", *sig, "e.g. 'transfer(address,uint256)'")->required();
    c->callback([sig] {
      auto f = ParseFunctionSignature(*sig);
      if (!f.ok()) std::exit(Fail(f.status()));
      std::cout << ToHex(f->Selector()) << "\n";
      std::exit(0);
    });
  }
  {
    auto sig = std::make_shared<std::string>();
    auto args = std::make_shared<std::vector<std::string>>();
    auto* c = eth->add_subcommand("calldata", "ABI-encode a call: selector + arguments");
    c->add_option("sig", *sig, "Function signature")->required();
    // Arguments are taken verbatim (CLI11 would split "[a,b]" and take "-5" for a flag).
    c->allow_extras();
    c->callback([sig, args, c] {
      *args = c->remaining();
      auto d = Calldata(*sig, *args);
      if (!d.ok()) std::exit(Fail(d.status()));
      std::cout << ToHex(*d) << "\n";
      std::exit(0);
    });
  }
  {
    auto sig = std::make_shared<std::string>();
    auto args = std::make_shared<std::vector<std::string>>();
    auto* c = eth->add_subcommand("abi-encode", "ABI-encode arguments (no selector)");
    c->add_option("sig", *sig, "Signature whose inputs give the types")->required();
    // Arguments are taken verbatim (CLI11 would split "[a,b]" and take "-5" for a flag).
    c->allow_extras();
    c->callback([sig, args, c] {
      *args = c->remaining();
      auto f = ParseFunctionSignature(*sig);
      if (!f.ok()) std::exit(Fail(f.status()));
      auto values = ParseArgs(f->inputs, *args);
      if (!values.ok()) std::exit(Fail(values.status()));
      auto enc = AbiEncode(f->inputs, *values);
      if (!enc.ok()) std::exit(Fail(enc.status()));
      std::cout << ToHex(*enc) << "\n";
      std::exit(0);
    });
  }
  {
    auto sig = std::make_shared<std::string>();
    auto data = std::make_shared<std::string>();
    auto input = std::make_shared<bool>(false);
    auto json = std::make_shared<bool>(false);
    auto* c = eth->add_subcommand("abi-decode", "Decode ABI-encoded output (or --input) data");
    c->add_option("sig", *sig, "e.g. 'balanceOf(address)(uint256)'")->required();
    c->add_option("data", *data, "0x-hex data")->required();
    c->add_flag("-i,--input", *input, "Decode input data (the selector may be included)");
    c->add_flag("--json", *json, "Print a JSON array of the values");
    c->callback([sig, data, input, json] {
      auto f = ParseFunctionSignature(*sig);
      if (!f.ok()) std::exit(Fail(f.status()));
      auto bytes = FromHex(*data);
      if (!bytes.ok()) std::exit(Fail(bytes.status()));
      const auto& types = *input ? f->inputs : f->outputs;
      BytesView view(*bytes);
      auto sel = f->Selector();
      if (*input && view.size() % 32 == 4 && std::equal(sel.begin(), sel.end(), view.begin())) {
        view = view.subspan(4);
      }
      auto values = AbiDecode(types, view);
      if (!values.ok()) std::exit(Fail(values.status()));
      nlohmann::json arr = nlohmann::json::array();
      for (size_t i = 0; i < types.size(); ++i) {
        if (*json) {
          arr.push_back(FormatAbiValue(types[i], (*values)[i]));
        } else {
          std::cout << FormatAbiValue(types[i], (*values)[i], /*exp_hints=*/true) << "\n";
        }
      }
      if (*json) std::cout << arr.dump() << "\n";
      std::exit(0);
    });
  }
  {
    auto addr = std::make_shared<std::string>();
    auto* c = eth->add_subcommand("to-checksum", "EIP-55 checksummed form of an address");
    c->alias("to-check-sum-address");
    c->add_option("address", *addr, "Address")->required();
    c->callback([addr] {
      std::string lower = *addr;
      for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      auto a = Address::Parse(lower);
      if (!a.ok()) std::exit(Fail(a.status()));
      std::cout << a->ToChecksum() << "\n";
      std::exit(0);
    });
  }
  {
    auto key = std::make_shared<KeySource>();
    auto positional = std::make_shared<std::string>();
    auto* c = eth->add_subcommand("address-of", "Address of a private key (cast wallet address)");
    c->add_option("private-key", *positional, "Private key as hex (or use the key options)");
    AddKeyOptions(c, *key);
    c->callback([key, positional] {
      KeySource k = *key;
      if (!positional->empty()) k.private_key = *positional;
      auto pk = LoadKey(k);
      if (!pk.ok()) std::exit(Fail(pk.status()));
      std::cout << pk->address().ToChecksum() << "\n";
      std::exit(0);
    });
  }
  {
    auto f = std::make_shared<TxFlags>();
    auto* c = eth->add_subcommand("sign-tx", "Print a raw signed transaction (cast mktx)");
    c->alias("mktx");
    c->add_option("to", f->to, "Recipient (omit or \"\" to create a contract)");
    c->add_option("sig", f->sig, "Function signature, or 0x calldata");
    // Arguments are taken verbatim (CLI11 would split "[a,b]" and take "-5" for a flag).
    c->allow_extras();
    c->add_option(
         "-r,--rpc-url", f->rpc,
         "Node, for missing fields (default: the running `br2k up`'s, else http://127.0.0.1:8545)")
        ->envname("ETH_RPC_URL");
    AddTxOptions(c, *f);
    c->callback([f, c] {
      f->args = c->remaining();
      std::exit(SignTx(*f));
    });
  }
  {
    auto f = std::make_shared<TxFlags>();
    auto* c = eth->add_subcommand("send", "Sign and send a transaction, print its receipt");
    c->add_option("to", f->to, "Recipient (\"\" with --create semantics: contract creation)")
        ->required();
    c->add_option("sig", f->sig, "Function signature, or 0x calldata");
    // Arguments are taken verbatim (CLI11 would split "[a,b]" and take "-5" for a flag).
    c->allow_extras();
    c->add_option("-r,--rpc-url", f->rpc,
                  "Node (default: the running `br2k up`'s, else http://127.0.0.1:8545)")
        ->envname("ETH_RPC_URL");
    c->add_flag("--async", f->async, "Print the hash without waiting for the receipt");
    c->add_flag("--json", f->json, "Receipt as JSON");
    c->add_option("--timeout", f->timeout, "Seconds to wait for the receipt");
    AddTxOptions(c, *f);
    c->callback([f, c] {
      f->args = c->remaining();
      std::exit(Send(*f));
    });
  }
  {
    struct CallFlags {
      std::string to, sig, rpc, block = "latest", from;
      std::vector<std::string> args;
      bool json = false;
    };
    auto f = std::make_shared<CallFlags>();
    auto* c = eth->add_subcommand("call", "eth_call; decodes outputs when the signature has them");
    c->add_option("to", f->to, "Contract")->required();
    c->add_option("sig", f->sig, "e.g. 'balanceOf(address)(uint256)', or 0x calldata")->required();
    // Arguments are taken verbatim (CLI11 would split "[a,b]" and take "-5" for a flag).
    c->allow_extras();
    c->add_option("-r,--rpc-url", f->rpc,
                  "Node (default: the running `br2k up`'s, else http://127.0.0.1:8545)")
        ->envname("ETH_RPC_URL");
    c->add_option("-b,--block", f->block, "Block tag or number");
    c->add_option("--from", f->from, "Caller address");
    c->add_flag("--json", f->json, "Print a JSON array of the values");
    c->callback([f, c] {
      f->args = c->remaining();
      auto to = Address::Parse(f->to);
      if (!to.ok()) std::exit(Fail(to.status()));
      auto data = Calldata(f->sig, f->args);
      if (!data.ok()) std::exit(Fail(data.status()));
      auto client = Client(RpcOrDefault(f->rpc));
      if (!client.ok()) std::exit(Fail(client.status()));
      CallRequest req{std::nullopt, *to, *data, U256(), std::nullopt};
      if (!f->from.empty()) {
        auto from = Address::Parse(f->from);
        if (!from.ok()) std::exit(Fail(from.status()));
        req.from = *from;
      }
      std::string block = f->block;
      if (!block.empty() && std::isdigit(static_cast<unsigned char>(block[0])) &&
          !block.starts_with("0x")) {
        auto n = U256::FromDecimal(block);
        if (!n.ok()) std::exit(Fail(n.status()));
        block = n->ToQuantity();
      }
      auto out = (*client)->EthCall(req, CmdDeadline(30), KnownErrors(), block);
      if (!out.ok()) std::exit(Fail(out.status()));
      if (out->reverted) std::exit(Fail(AbortedError(out->revert.ToString())));
      auto fn = f->sig.starts_with("0x") ? Result<AbiFunction>(InvalidArgumentError(""))
                                         : ParseFunctionSignature(f->sig);
      if (!fn.ok() || fn->outputs.empty()) {
        std::cout << ToHex(out->data) << "\n";
        std::exit(0);
      }
      auto values = fn->DecodeOutput(out->data);
      if (!values.ok()) std::exit(Fail(values.status()));
      nlohmann::json arr = nlohmann::json::array();
      for (size_t i = 0; i < fn->outputs.size(); ++i) {
        if (f->json)
          arr.push_back(FormatAbiValue(fn->outputs[i], (*values)[i]));
        else
          std::cout << FormatAbiValue(fn->outputs[i], (*values)[i], true) << "\n";
      }
      if (f->json) std::cout << arr.dump() << "\n";
      std::exit(0);
    });
  }
  {
    struct ReceiptFlags {
      std::string hash, field, rpc;
      bool json = false;
      uint64_t confirmations = 1;
      bool async = false;
      int timeout = 120;
    };
    auto f = std::make_shared<ReceiptFlags>();
    auto* c = eth->add_subcommand("receipt", "Print a transaction receipt (waits for it)");
    c->add_option("tx", f->hash, "Transaction hash")->required();
    c->add_option("field", f->field, "Print only this field");
    c->add_option("-r,--rpc-url", f->rpc,
                  "Node (default: the running `br2k up`'s, else http://127.0.0.1:8545)")
        ->envname("ETH_RPC_URL");
    c->add_option("--confirmations", f->confirmations, "Blocks on top before printing");
    c->add_flag("--async", f->async, "Do not wait: fail when there is no receipt yet");
    c->add_flag("--json", f->json, "As JSON");
    c->add_option("--timeout", f->timeout, "Seconds to wait");
    c->callback([f] {
      auto h = Hash::FromHex(f->hash);
      if (!h.ok()) std::exit(Fail(h.status()));
      auto client = Client(RpcOrDefault(f->rpc));
      if (!client.ok()) std::exit(Fail(client.status()));
      Deadline d = CmdDeadline(f->timeout);
      if (!f->async) {
        auto r = (*client)->WaitForReceipt(*h, d, f->confirmations);
        if (!r.ok()) std::exit(Fail(r.status()));
      }
      auto raw = RawReceipt(**client, *h, d);
      if (!raw.ok()) std::exit(Fail(raw.status()));
      if (raw->is_null()) std::exit(Fail(NotFoundError("no receipt for " + h->ToHex())));
      std::exit(PrintReceipt(*raw, f->field, f->json));
    });
  }
  {
    struct LogsFlags {
      std::string address, rpc, from_block = "0", to_block = "latest", sig;
      std::vector<std::string> topics;
      bool json = false;
    };
    auto f = std::make_shared<LogsFlags>();
    auto* c = eth->add_subcommand("logs", "Logs by filter (range-chunked eth_getLogs)");
    c->add_option("sig-or-topic", f->sig, "Event signature or topic 0");
    c->add_option("topics", f->topics, "Further topics (0x-hex; '' for any)");
    c->add_option("--address", f->address, "Contract address");
    c->add_option("--from-block", f->from_block, "First block (number)");
    c->add_option("--to-block", f->to_block, "Last block (number or latest)");
    c->add_option("-r,--rpc-url", f->rpc,
                  "Node (default: the running `br2k up`'s, else http://127.0.0.1:8545)")
        ->envname("ETH_RPC_URL");
    c->add_flag("--json", f->json, "As a JSON array");
    c->callback([f] {
      LogFilter filter;
      if (!f->address.empty()) {
        auto a = Address::Parse(f->address);
        if (!a.ok()) std::exit(Fail(a.status()));
        filter.addresses = {*a};
      }
      auto from = U256::FromString(f->from_block);
      if (!from.ok() || !from->FitsU64()) std::exit(Fail(InvalidArgumentError("bad --from-block")));
      filter.from_block = from->low64();
      if (f->to_block != "latest") {
        auto to = U256::FromString(f->to_block);
        if (!to.ok() || !to->FitsU64()) std::exit(Fail(InvalidArgumentError("bad --to-block")));
        filter.to_block = to->low64();
      }
      if (!f->sig.empty()) {
        Hash t0;
        if (f->sig.starts_with("0x")) {
          auto h = Hash::FromHex(f->sig);
          if (!h.ok()) std::exit(Fail(h.status()));
          t0 = *h;
        } else {
          auto ev = ParseEventSignature(f->sig);
          if (!ev.ok()) std::exit(Fail(ev.status()));
          t0 = ev->Topic();
        }
        filter.topics.push_back({t0});
        for (const auto& t : f->topics) {
          if (t.empty()) {
            filter.topics.push_back({});
            continue;
          }
          auto h = Hash::FromHex(t);
          if (!h.ok()) std::exit(Fail(h.status()));
          filter.topics.push_back({*h});
        }
      }
      auto client = Client(RpcOrDefault(f->rpc));
      if (!client.ok()) std::exit(Fail(client.status()));
      // Ask for the raw JSON (cast prints the node's fields); chunk by 5000 blocks.
      Deadline d = CmdDeadline(120);
      uint64_t to = 0;
      if (filter.to_block) {
        to = *filter.to_block;
      } else {
        auto head = (*client)->BlockNumber(d);
        if (!head.ok()) std::exit(Fail(head.status()));
        to = *head;
      }
      nlohmann::json all = nlohmann::json::array();
      for (uint64_t start = filter.from_block; start <= to;) {
        uint64_t end = std::min(to, start + 4999);
        LogFilter chunk = filter;
        chunk.from_block = start;
        chunk.to_block = end;
        auto r = (*client)->Call("eth_getLogs", nlohmann::json::array({chunk.ToJson()}), d);
        if (!r.ok()) std::exit(Fail(r.status()));
        for (const auto& l : *r) all.push_back(l);
        if (end == to) break;
        start = end + 1;
      }
      if (f->json) {
        std::cout << all.dump() << "\n";
      } else {
        for (const auto& l : all) std::cout << PrettyLog(l);
      }
      std::exit(0);
    });
  }
}

}  // namespace br2k::cli
