#include "cardsync/shard_manifest.hpp"

#include "cardsync/atomic_file.hpp"
#include "cardsync/json_text.hpp"
#include "cardsync/result_record.hpp"

#include <fmt/core.h>
#include <simdjson.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace cardsync {
namespace {

constexpr int manifest_version = 1;

[[noreturn]] void bad(const std::string& source, const std::string& what) {
    throw std::runtime_error("shard manifest '" + source + "': " + what);
}

}  // namespace

void add_outcomes(OutcomeCounts& into, const OutcomeCounts& more) noexcept {
    for (std::size_t i = 0; i < into.size(); ++i) into[i] += more[i];
}

std::string shard_manifest_path(std::string_view results_path) { return std::string(results_path) + ".shard.json"; }

std::string to_json(const ShardManifest& m) {
    std::string out = fmt::format("{{\"cardsync_shard_manifest\":{},\"input\":{{\"name\":", manifest_version);
    append_json_string(out, m.input.name);
    out += fmt::format(",\"bytes\":{},\"sha256\":", m.input.bytes);
    append_json_string(out, m.input.sha256);
    out += fmt::format(",\"complete\":{}}},\"shard\":{{\"index\":{},\"count\":{}}},\"results\":{{\"path\":",
                       m.input.complete, m.shard.index, m.shard.count);
    append_json_string(out, m.results_path);
    out += fmt::format(",\"format\":\"{}\",\"records\":{}}},\"rows_other_shards\":{},\"outcomes\":{{",
                       m.results_format == ResultsFormat::csv ? "csv" : "ndjson", m.records, m.rows_other_shards);
    for (std::size_t i = 0; i < m.outcomes.size(); ++i)
        out += fmt::format("{}\"{}\":{}", i ? "," : "", to_string(static_cast<Outcome>(i)), m.outcomes[i]);
    out += "}";
    if (!m.summary_path.empty()) {
        out += ",\"summary\":";
        append_json_string(out, m.summary_path);
    }
    out += "}\n";
    return out;
}

ShardManifest parse_shard_manifest(std::string_view json, const std::string& source) {
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (auto e = parser.parse(simdjson::padded_string(json)).get(root))
        bad(source, std::string("not JSON (") + simdjson::error_message(e) + ")");
    const auto field = [&](simdjson::dom::element parent, std::string_view path) {
        simdjson::dom::element v;
        if (parent.at_pointer(path).get(v)) bad(source, "no " + std::string(path.substr(1)));
        return v;
    };
    const auto uint = [&](std::string_view path) {
        std::uint64_t n = 0;
        if (field(root, path).get(n)) bad(source, std::string(path.substr(1)) + " is not a whole number");
        return n;
    };
    const auto text = [&](std::string_view path) {
        std::string_view s;
        if (field(root, path).get(s)) bad(source, std::string(path.substr(1)) + " is not a string");
        return std::string(s);
    };
    if (uint("/cardsync_shard_manifest") != manifest_version)
        bad(source, "written by another version of cardsync (cardsync_shard_manifest is not 1)");
    ShardManifest m;
    m.input.name = text("/input/name");
    m.input.bytes = uint("/input/bytes");
    m.input.sha256 = text("/input/sha256");
    if (field(root, "/input/complete").get(m.input.complete)) bad(source, "input/complete is not true or false");
    const auto index = uint("/shard/index");
    const auto count = uint("/shard/count");
    if (count < 1 || count > max_shard_count || index >= count)
        bad(source, fmt::format("shard {}/{} is not a shard (0 <= index < count)", index, count));
    m.shard = ShardSpec{static_cast<std::uint32_t>(index), static_cast<std::uint32_t>(count)};
    m.results_path = text("/results/path");
    const auto format = text("/results/format");
    if (format != "csv" && format != "ndjson") bad(source, "results/format '" + format + "' is not csv or ndjson");
    m.results_format = format == "csv" ? ResultsFormat::csv : ResultsFormat::ndjson;
    m.records = uint("/results/records");
    m.rows_other_shards = uint("/rows_other_shards");
    for (std::size_t i = 0; i < m.outcomes.size(); ++i)
        m.outcomes[i] = uint("/outcomes/" + std::string(to_string(static_cast<Outcome>(i))));
    simdjson::dom::element summary;
    if (!root.at_pointer("/summary").get(summary)) {  // optional: older manifests have none
        std::string_view s;
        if (summary.get(s) || s.empty()) bad(source, "summary is not a file name");
        m.summary_path = std::string(s);
    }
    return m;
}

std::string path_from_manifest_dir(const std::string& path, const std::string& results_path) {
    if (path.empty()) return {};
    const auto target = std::filesystem::absolute(path).lexically_normal();
    const auto dir = std::filesystem::absolute(results_path).lexically_normal().parent_path();
    const auto relative = target.lexically_relative(dir);
    return relative.empty() ? target.string() : relative.string();
}

std::string resolve_from_manifest(const std::string& stored, const std::string& manifest_path) {
    const std::filesystem::path p(stored);
    if (p.is_absolute()) return stored;
    return (std::filesystem::path(manifest_path).parent_path() / p).lexically_normal().string();
}

void write_shard_manifest(const std::string& path, const ShardManifest& manifest) {
    write_file_atomically(path, to_json(manifest));
}

ShardManifest read_shard_manifest(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read shard manifest '" + path + "': " + std::strerror(errno));
    std::ostringstream text;
    text << in.rdbuf();
    return parse_shard_manifest(text.str(), path);
}

namespace {

std::string describe(const InputIdentity& input) {
    return fmt::format("size {} sha256 {}", input.bytes, input.sha256);
}

std::string shard_name(std::uint64_t index, std::uint64_t count) { return fmt::format("{}/{}", index, count); }

}  // namespace

void check_shard_set(const std::vector<ShardFile>& shards, bool allow_partial) {
    if (shards.empty()) throw std::invalid_argument("no shard results to merge");
    // A stopped run first: its digest covers part of the input, so it would look like another input.
    for (const auto& s : shards) {
        if (s.manifest.input.complete || allow_partial) continue;
        throw std::invalid_argument(fmt::format(
            "{}: shard {} stopped before the end of its input (read {} bytes of '{}'): finish it with "
            "`cardsync apply --resume` and the same --results, or pass --allow-partial to merge what there is",
            s.file, shard_name(s.manifest.shard.index, s.manifest.shard.count), s.manifest.input.bytes,
            s.manifest.input.name));
    }
    const ShardFile* reference = nullptr;
    for (const auto& s : shards)
        if (s.manifest.input.complete) {
            reference = &s;
            break;
        }
    for (const auto& s : shards) {
        if (!reference || &s == reference) continue;
        const bool foreign = s.manifest.input.complete ? !s.manifest.input.same_content(reference->manifest.input)
                                                       : s.manifest.input.bytes > reference->manifest.input.bytes;
        if (foreign)
            throw std::invalid_argument(fmt::format("{} is from another input ({}) than {} ({})", s.file,
                                                    describe(s.manifest.input), reference->file,
                                                    describe(reference->manifest.input)));
    }
    const auto count = shards.front().manifest.shard.count;
    for (const auto& s : shards)
        if (s.manifest.shard.count != count)
            throw std::invalid_argument(fmt::format(
                "{} is shard {} but {} is shard {}: all shards must come from runs with the same shard count",
                s.file, shard_name(s.manifest.shard.index, s.manifest.shard.count), shards.front().file,
                shard_name(shards.front().manifest.shard.index, count)));
    std::vector<const ShardFile*> by_index(count, nullptr);
    for (const auto& s : shards) {
        auto& slot = by_index[s.manifest.shard.index];
        if (slot)
            throw std::invalid_argument(fmt::format("shard {} given twice ({}, {})",
                                                    shard_name(s.manifest.shard.index, count), slot->file, s.file));
        slot = &s;
    }
    std::vector<std::string> missing;
    for (std::uint32_t i = 0; i < count; ++i)
        if (!by_index[i]) missing.push_back(shard_name(i, count));
    if (missing.size() == 1) throw std::invalid_argument("shard " + missing.front() + " is missing");
    if (!missing.empty()) {
        std::string list;
        for (std::size_t i = 0; i < missing.size() && i < 10; ++i) list += (i ? ", " : "") + missing[i];
        if (missing.size() > 10) list += fmt::format(" and {} more", missing.size() - 10);
        throw std::invalid_argument("shards " + list + " are missing");
    }
}

}  // namespace cardsync
