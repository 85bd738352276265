#include "cardsync/engine.hpp"

#include "cardsync/card_snapshot.hpp"
#include "cardsync/cli.hpp"
#include "cardsync/number_lanes.hpp"
#include "cardsync/request_codec.hpp"
#include "cardsync/response_parser.hpp"
#include "cardsync/results_writer.hpp"
#include "cardsync/retry_after.hpp"
#include "cardsync/row_prefetcher.hpp"
#include "cardsync/row_reader.hpp"
#include "cardsync/run_summary.hpp"
#include "cardsync/stop_signal.hpp"
#include "cardsync/sync_plan.hpp"
#include "cardsync/text.hpp"
#include "cardsync/token_bucket.hpp"
#include "cardsync/validate.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <queue>
#include <unordered_set>
#include <stdexcept>
#include <variant>
#include <vector>

namespace cardsync {

namespace {

namespace net = boost::asio;
using timer = net::basic_waitable_timer<Clock, net::wait_traits<Clock>, net::io_context::executor_type>;
constexpr auto token = net::as_tuple(net::use_awaitable);

// One request for one number (a row, or rows coalesced by the lanes), across its attempts.
struct Job {
    std::uint64_t id = 0;
    LaneWork work;
    std::string request;         // encoded once, sent as is on every attempt
    int attempts = 0;            // attempts counted against max_attempts
    bool free_next = false;      // the next send is a free resend
    bool transparent_used = false;
    bool in_flight = false;
    bool create = false;         // a POST (--create-missing); false again once it falls back to PATCH
    bool fell_back = false;      // the POST met an existing card (409/2014) and went again as PATCH
    TimePoint due{};             // when the current attempt was due (row ready, retry or budget due)
    TimePoint intended{};        // intended send: max(due, slot in the fixed-rate schedule) (wrk2)
    int last_status = 0;
    int last_code = 0;
    std::string last_reason;
    double last_latency_ms = 0;

    // Empties the job for its slot's next use; the request buffer keeps its capacity.
    void reset() {
        std::string buffer = std::move(request);
        buffer.clear();
        *this = Job{};
        request = std::move(buffer);
    }
};

// The jobs in progress, in slots reused from one job to the next: no allocation per row, and each
// slot keeps its request buffer. An id names the slot (low 32 bits) and the job's serial number
// (high bits), so a stale id (a job already recorded) finds nothing.
class JobTable {
public:
    /// A new job, in a free slot, with its id set.
    Job& add() {
        std::uint32_t slot = 0;
        if (free_.empty()) {
            slot = static_cast<std::uint32_t>(slots_.size());
            slots_.emplace_back();
        } else {
            slot = free_.back();
            free_.pop_back();
        }
        Job& job = slots_[slot];
        job.id = (++serial_ << 32) | slot;
        ++size_;
        return job;
    }
    Job* find(std::uint64_t id) noexcept {
        const std::size_t slot = id & 0xFFFF'FFFFu;
        return slot < slots_.size() && slots_[slot].id == id && id != 0 ? &slots_[slot] : nullptr;
    }
    void erase(Job& job) {
        free_.push_back(static_cast<std::uint32_t>(job.id & 0xFFFF'FFFFu));
        job.reset();  // id 0: found no more
        --size_;
    }
    bool empty() const noexcept { return size_ == 0; }
    /// The ids of the jobs in progress that `keep` selects (a copy: the caller may finish them).
    template <class Keep>
    std::vector<std::uint64_t> ids(Keep keep) const {
        std::vector<std::uint64_t> out;
        for (const Job& job : slots_)
            if (job.id != 0 && keep(job)) out.push_back(job.id);
        return out;
    }

private:
    std::deque<Job> slots_;  // a deque: a Job& stays valid while more jobs are added
    std::vector<std::uint32_t> free_;
    std::uint64_t serial_ = 0;
    std::size_t size_ = 0;
};

// Sends in the last second, in 100 ms slots: the measured rate AdaptiveRate starts from. In the
// run's first second the count is spread over the time elapsed (at least 100 ms), not a full second.
class SendMeter {
public:
    explicit SendMeter(TimePoint start) : start_(start), current_(slot_of(start)) {}
    void add(TimePoint now) {
        advance(now);
        ++slots_[index_];
    }
    double per_second(TimePoint now) {
        advance(now);
        std::uint64_t total = 0;
        for (auto n : slots_) total += n;
        const double window = std::clamp(to_seconds(now - start_), 0.1, 1.0);
        return static_cast<double>(total) / window;
    }

private:
    static long long slot_of(TimePoint t) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() / 100;
    }
    void advance(TimePoint now) {
        const long long slot = slot_of(now);
        if (slot == current_) return;
        const auto steps = std::min<long long>(slot - current_, 10);
        for (long long i = 0; i < steps; ++i) {
            index_ = (index_ + 1) % slots_.size();
            slots_[index_] = 0;
        }
        current_ = slot;
    }
    TimePoint start_;
    std::array<std::uint64_t, 10> slots_{};
    std::size_t index_ = 0;
    long long current_ = 0;
};

// The process's peak resident set (Linux /proc/self/status VmHWM), in KiB; 0 when unknown.
std::uint64_t peak_rss_kib() {
    std::FILE* f = std::fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    unsigned long long kib = 0;
    while (std::fgets(line, sizeof line, f))
        if (std::sscanf(line, "VmHWM: %llu kB", &kib) == 1) break;
    std::fclose(f);
    return kib;
}

// Where a warning goes when the caller gave no `warn`.
void print_warning(std::string_view line) { fmt::print(stderr, "cardsync: {}\n", line); }

std::string seconds_text(Duration d) { return fmt::format("{:.3g} s", to_seconds(d)); }

std::string lines_text(const LineList& lines, std::uint64_t except) {
    std::string out;
    std::size_t shown = 0;
    for (auto l : lines) {
        if (l == except) continue;
        if (shown == 5) {
            out += fmt::format(" and {} more", lines.size() - 1 - shown);
            break;
        }
        out += shown ? ", " : "";
        out += std::to_string(l);
        ++shown;
    }
    return out;
}

// One engine's part of a run: the whole run's, or one of --threads N (numbers partitioned by hash,
// each engine with its share of the connections, the rate and the memory bound).
struct EngineShare {
    std::size_t index = 0;
    int connections = 1;
    double rate = 0;
    double burst = 0;
    std::size_t max_admitted = 1;
    std::size_t budget_cap = NumberBudget::default_max_tracked;  // numbers the budget remembers at most
    bool handle_signals = false;
    std::function<void(std::string_view)> log, warn;  // serialised across engines by the caller
    std::function<void(const AttemptEvent&)> attempt;
    std::function<void(const ProgressSnapshot&)> progress;
    std::function<void(const std::string&)> on_abort;  // this engine stopped the run: tell the others

    // The whole run as one engine.
    static EngineShare whole(const ApplyOptions& o) {
        EngineShare s;
        s.connections = o.connections;
        s.rate = o.rate;
        s.burst = o.burst;
        s.max_admitted = o.max_admitted;
        s.handle_signals = o.handle_signals;
        s.log = o.log;
        s.warn = o.warn;
        s.attempt = o.attempt;
        s.progress = o.progress;
        return s;
    }
};

class Engine {
public:
    Engine(const ApplyOptions& opt, EngineShare share, ResultsWriter& results, StopSignal& stop)
        : opt_(opt),
          share_(std::move(share)),
          results_(results),
          stop_(stop),
          endpoint_(parse_api_endpoint(opt.base_url, opt.allow_insecure_http)),
          encoder_(RequestTemplate{endpoint_.host_header, endpoint_.base_path, opt.api_key}),
          random_(opt.seed ? seeded_random(opt.seed) : system_random()),
          start_(Clock::now()),
          bucket_(share_.rate, share_.burst > 0 ? share_.burst : std::max(1.0, share_.rate / 10), start_),
          adaptive_(share_.rate),
          budget_(opt.budget),
          meter_(start_),
          token_timer_(io_.get_executor()),
          retry_wake_(io_.get_executor()),
          flush_timer_(io_.get_executor()),
          progress_timer_(io_.get_executor()),
          grace_timer_(io_.get_executor()),
          signals_(io_) {
        if (opt.api_key.empty()) throw std::invalid_argument("no API key: set LINQ_API_V3_API_KEY or pass --api-key-file");
        if ((opt.skip_unchanged || opt.create_missing) && !opt.snapshot)
            throw std::invalid_argument("--skip-unchanged and --create-missing need the snapshot of the live cards");
        if (opt.snapshot) planner_.emplace(*opt.snapshot, opt.create_missing);
        budget_.set_max_tracked(share_.budget_cap);
        policy_.max_attempts = std::max(1, opt.max_attempts);
        policy_.max_wait = opt.max_retry_wait;
        policy_.transient = opt.transient;
        policy_.throttle = opt.throttle;
        target_active_ = static_cast<std::size_t>(std::max(1, share_.connections) * std::max(1, opt.pipeline)) * 2 + 16;
        if (endpoint_.tls && opt.insecure && share_.index == 0)
            warn("WARNING: --insecure: the server's TLS certificate is NOT verified. Anyone on the network path "
                 "can read the API key and the data. Use --cacert FILE for a private CA instead.");
        PoolOptions po = pool_options(opt, endpoint_);
        po.connections = share_.connections;
        po.log = share_.log;
        pool_.emplace(io_, std::move(po), [this](Exchange&& ex) { on_exchange(std::move(ex)); });
    }

    /// Runs this engine's part to the end on the calling thread, taking rows from `outlet` of
    /// `prefetch` (which the caller starts, and stops and joins before this engine goes).
    ApplyReport run(RowPrefetcher& prefetch, std::size_t outlet) {
        prefetch_ = &prefetch;
        outlet_ = outlet;
        stop_.set_listener([this] { net::post(io_, [this] { on_stop_request(); }); });
        if (share_.handle_signals) {
            signals_.add(SIGINT);
            signals_.add(SIGTERM);
            net::co_spawn(io_, signal_loop(this), rethrow);
        }
        net::co_spawn(io_, token_loop(this), rethrow);
        net::co_spawn(io_, retry_loop(this), rethrow);
        net::co_spawn(io_, flush_loop(this), rethrow);
        if (share_.progress && opt_.progress_interval > Duration::zero()) net::co_spawn(io_, progress_loop(this), rethrow);
        report_.target_rate = share_.rate;
        net::post(io_, [this] { admit_more(); });
        try {
            io_.run();
        } catch (...) {
            stop_.set_listener(nullptr);
            try {
                hand_over_records();  // the writer still writes what was recorded before the error
            } catch (...) {
            }
            throw;
        }
        stop_.set_listener(nullptr);
        hand_over_records();
        results_.flush();
        if (input_error_) std::rethrow_exception(input_error_);  // every row read has its record
        report_.elapsed_s = to_seconds(Clock::now() - start_);
        report_.final_rate = bucket_.rate();
        report_.pool = pool_->stats();
        report_.peak_rss_kib = peak_rss_kib();
        return std::move(report_);
    }

private:
    static void rethrow(std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
    }

    // A server (or a proxy) could echo the request's headers in an error message: never pass the
    // key on, whatever the text came from.
    std::string redact(std::string text) const {
        if (text.empty()) return text;  // nearly every answer's message and location: nothing to search
        return redact_secret(std::move(text), opt_.api_key);
    }
    void log(const std::string& line) const {
        if (share_.log) share_.log(redact(line));
    }
    void warn(const std::string& line) const {
        if (share_.warn) share_.warn(redact(line));
        else print_warning(redact(line));
    }

    // --- coroutines -------------------------------------------------------------------------

    static net::awaitable<void> wait_on(timer& t, TimePoint until) {
        t.expires_at(until);
        auto [ec] = co_await t.async_wait(token);
        (void)ec;  // cancelled = notified
    }

    // Waits for the bucket's next token when pump() found none, then pumps again.
    static net::awaitable<void> token_loop(Engine* e) {
        while (!e->finished_ && !e->no_new_sends_) {
            co_await wait_on(e->token_timer_, e->token_due_);
            e->token_due_ = TimePoint::max();
            e->pump();
        }
    }

    // Moves jobs whose due time has come from the waiting queue to the ready queue.
    static net::awaitable<void> retry_loop(Engine* e) {
        while (!e->finished_) {
            if (e->waiting_.empty()) {
                co_await wait_on(e->retry_wake_, TimePoint::max());
                continue;
            }
            const TimePoint due = e->waiting_.top().first;
            if (due > Clock::now()) {
                co_await wait_on(e->retry_wake_, due);
                continue;
            }
            const std::uint64_t id = e->waiting_.top().second;
            e->waiting_.pop();
            Job* job = e->jobs_.find(id);
            if (!job || e->no_new_sends_) continue;
            job->due = due;
            e->ready_.push_back(id);
            e->pump();
        }
    }

    static net::awaitable<void> flush_loop(Engine* e) {
        std::uint64_t flushed = 0;
        while (!e->finished_) {
            co_await wait_on(e->flush_timer_, Clock::now() + e->opt_.flush_interval);
            e->hand_over_records();
            if (e->results_.records_written() != flushed) {
                e->results_.flush();
                flushed = e->results_.records_written();
            }
        }
    }

    static net::awaitable<void> progress_loop(Engine* e) {
        std::uint64_t done_before = 0;
        TimePoint before = e->start_;
        while (!e->finished_) {
            co_await wait_on(e->progress_timer_, Clock::now() + e->opt_.progress_interval);
            if (e->finished_) break;
            const TimePoint now = Clock::now();
            ProgressSnapshot s = e->snapshot(now);
            const double span = to_seconds(now - before);
            if (span > 0) s.rate_now = static_cast<double>(s.rows_done - done_before) / span;
            done_before = s.rows_done;
            before = now;
            e->share_.progress(s);
        }
    }

    ProgressSnapshot snapshot(TimePoint now) const {
        ProgressSnapshot s;
        s.elapsed_s = to_seconds(now - start_);
        s.rows_read = report_.rows_read;
        s.rows_done = report_.records();
        if (report_.input_exhausted) s.rows_total = report_.rows_read;
        s.bytes_read = prefetch_->bytes_read(outlet_);  // the reader runs on its own thread: not reader_ here
        s.updated = report_.count(Outcome::updated);
        s.skipped = report_.count(Outcome::skipped);
        s.rejected = report_.count(Outcome::rejected);
        s.failed = report_.count(Outcome::failed);
        s.invalid = report_.count(Outcome::invalid);
        s.requests = report_.requests;
        s.in_flight = pool_->in_flight();
        s.waiting = waiting_.size();
        return s;
    }

    static net::awaitable<void> signal_loop(Engine* e) {
        while (!e->finished_) {
            auto [ec, signo] = co_await e->signals_.async_wait(token);
            if (ec) break;
            e->log(fmt::format("signal {} received", signo));
            e->on_stop_request();
        }
    }

    static net::awaitable<void> grace_loop(Engine* e) {
        co_await wait_on(e->grace_timer_, Clock::now() + e->opt_.grace);
        if (!e->finished_) e->cut_in_flight("interrupted before an answer");
    }

    // --- admission ----------------------------------------------------------------------------

    // Reads rows while the pool could use more work and the memory bound allows.
    void admit_more() {
        if (reading_stopped_ || finished_) return;
        RowPrefetcher::CheckedRow* row = nullptr;
        admitting_ = true;
        while (ready_.size() + pool_->in_flight() < target_active_ && lanes_.rows() < share_.max_admitted) {
            const auto next = take_row(row);
            if (next == RowPrefetcher::Next::empty) break;  // the prefetcher posts rows_ready()
            if (next == RowPrefetcher::Next::end) {
                reading_stopped_ = true;
                if (input_error_) drain("not sent: reading the input failed (" + input_error_text() + ")");
                else report_.input_exhausted = true;
                break;
            }
            ++report_.rows_read;
            report_.last_line_read = row->line;
            if (const auto* later = prefetch_->peek(warm_distance, outlet_)) warm(*later);
            admit(*row);
        }
        admitting_ = false;
        pump();
        maybe_finish();
    }

    // Asks for the memory a row's send reads that is not in this core's caches: the image URL
    // (long, so on the heap, written on the reader's core) and the number's budget entry. Done a
    // few rows ahead, the misses overlap other work instead of stalling the row (perf, 1M rows
    // against nginx: ~0.4 of the network thread's ~3.3 µs of user time a row).
    static constexpr std::size_t warm_distance = 4;
    static_assert(warm_distance < RowPrefetcher::prefetch_distance, "peek() reads a row whose lines were asked for already");
    void warm(const RowPrefetcher::CheckedRow& row) const noexcept {
        const auto* update = std::get_if<ContactUpdate>(&row.checked);
        if (!update) return;
        if (update->fields.image_url) __builtin_prefetch(update->fields.image_url->data());
        budget_.prefetch(update->phone_number);
    }

    // The row was validated on the prefetcher's thread; it is moved from.
    void admit(RowPrefetcher::CheckedRow& row) {
        if (auto* bad = std::get_if<InvalidRow>(&row.checked)) {
            ResultRecord rec;
            rec.line = row.line;
            rec.phone_number = std::move(row.phone_number);
            rec.outcome = Outcome::invalid;
            rec.message = std::move(bad->message);
            write(rec);
            return;
        }
        auto& update = std::get<ContactUpdate>(row.checked);
        if (auto done = opt_.already_updated.find(update.line);
            done != opt_.already_updated.end() && done->second == update.phone_number) {
            ResultRecord rec;
            rec.line = update.line;
            rec.phone_number = std::move(update.phone_number);
            rec.outcome = Outcome::skipped;
            rec.message = "already updated (resume)";
            write(rec);
            return;
        }
        if (planner_ && !plan_row(update)) return;
        if (auto work = lanes_.admit(std::move(update))) start(std::move(*work));
    }

    // The snapshot's say on a valid row (sync_plan.hpp); false when the row is recorded here.
    bool plan_row(const ContactUpdate& update) {
        const RowPlan plan = planner_->decide(update);
        ResultRecord rec;
        rec.line = update.line;
        rec.phone_number = update.phone_number;
        if (plan.action == PlanAction::unchanged && opt_.skip_unchanged) {
            ++report_.unchanged;
            rec.outcome = Outcome::skipped;
            rec.message = "unchanged";
        } else if (plan.action == PlanAction::invalid) {
            rec.outcome = Outcome::invalid;
            rec.message = plan.reason;
        } else {
            if (plan.action == PlanAction::create) create_lines_.insert(update.line);
            return true;
        }
        write(rec);
        return false;
    }

    void start(LaneWork work) {
        report_.coalesced += work.lines.size() - 1;
        Job& job = jobs_.add();
        job.work = std::move(work);
        // A create is always the first row of its number's work (a later row is a change of it).
        job.create = !create_lines_.empty() && create_lines_.erase(job.work.lines.front()) != 0;
        if (job.create) {
            ++report_.creates;
            encoder_.append_post(job.request, job.work.number, job.work.fields);
        } else {
            encoder_.append_patch(job.request, job.work.number, job.work.fields);
        }
        job.due = Clock::now();
        if (no_new_sends_) {
            finish(job, Outcome::failed, drain_message_);
            return;
        }
        ready_.push_back(job.id);
        if (!admitting_) pump();  // admit_more pumps once it has read its rows
    }

    // --- sending and answers --------------------------------------------------------------------

    void send(Job& job, TimePoint now) {
        if (job.free_next) job.free_next = false;
        else ++job.attempts;
        job.in_flight = true;
        // wrk2's schedule: at the target rate the k-th send has a slot, start + k/rate, kept from
        // drifting into the past while there is nothing to send (then `due` is later anyway). A
        // stall (server, full pool) leaves the slots behind, so the waits it causes are counted.
        job.intended = job.due;
        if (const double rate = bucket_.rate(); rate > 0) {
            job.intended = std::max(job.due, next_slot_);
            next_slot_ = job.intended + std::chrono::duration_cast<Duration>(std::chrono::duration<double>(1.0 / rate));
        }
        if (job.intended > now) job.intended = now;  // a burst went early: never count less than the real latency
        ++report_.requests;
        meter_.add(now);
        pool_->submit(job.id, job.request, now);
    }

    // Hands ready jobs to the pool while it has room: per-number budget, then a token from the
    // shared bucket. Called directly wherever work or room appears: a coroutine wake per request
    // cost more than the rest of the dispatch. Only a wait for a token goes through a timer.
    void pump() {
        if (pumping_) return;  // sending admits rows, which may call back here
        pumping_ = true;
        while (!finished_ && !no_new_sends_ && !ready_.empty() && pool_->has_capacity()) {
            Job* found = jobs_.find(ready_.front());
            if (!found) {
                ready_.pop_front();
                continue;
            }
            Job& job = *found;
            const TimePoint now = Clock::now();
            const TimePoint allowed = budget_.when_allowed(job.work.number, now);
            if (allowed > now) {  // the number's budget is spent: wait aside, let others go
                ready_.pop_front();
                schedule(job, allowed);
                continue;
            }
            bucket_.set_rate(adaptive_.rate(now), now);
            if (!bucket_.try_take(now)) {
                const TimePoint due = now + bucket_.time_until(now);
                if (due < token_due_) {
                    token_due_ = due;
                    token_timer_.cancel();
                }
                break;
            }
            ready_.pop_front();
            send(job, now);
            admit_more();
        }
        pumping_ = false;
    }

    // Puts a job aside until `due` (a retry, or its number's budget).
    void schedule(Job& job, TimePoint due) {
        const bool earliest = waiting_.empty() || due < waiting_.top().first;
        waiting_.emplace(due, job.id);
        if (earliest) retry_wake_.cancel();
    }

    void on_exchange(Exchange&& ex) {
        Job* found = jobs_.find(ex.id);
        if (!found) return;  // already recorded (cut off by a stop)
        Job& job = *found;
        job.in_flight = false;
        const TimePoint now = ex.done_at;
        // The server counted the call somewhere between our send and now: taking now keeps the
        // client's view of the number's window never ahead of the server's. One request per
        // number is in flight at a time (lanes), so recording late cannot overspend.
        budget_.record_call(job.work.number, now);
        if (ex.status != 0) {
            ++report_.statuses[ex.status];
            report_.latency.record(ex.latency());
            report_.intended_latency.record(now - job.intended);
            if (ex.api.kind == BodyKind::error_envelope && ex.api.error_code) ++report_.api_codes[ex.api.error_code];
        }
        if (ex.error != TransportError::none) ++report_.transport_errors[static_cast<std::size_t>(ex.error)];

        // Lost without being processed: send again without counting an attempt.
        const bool free_resend = ex.status == 0 && !ex.certificate_rejected &&
                                 (ex.unprocessed || (ex.reused && !ex.answer_started && !job.transparent_used));
        if (free_resend && !no_new_sends_) {
            if (!ex.unprocessed) job.transparent_used = true;
            job.free_next = true;
            ++report_.resends;
            log(fmt::format("line {} {}: resent ({})", job.work.lines.front(), job.work.number, ex.error_detail));
            if (share_.attempt) {
                AttemptEvent ev = attempt_event(job, ex);
                ev.resend = true;
                ev.verdict = Verdict::retry;
                ev.retry_in_s = 0.0;
                ev.reason = redact("resent: " + ex.error_detail);
                share_.attempt(ev);
            }
            ready_.push_front(job.id);
            pump();
            return;
        }

        // POST met a card made since the snapshot (409/2014): the row is an update after all. The
        // PATCH is a new request, counted as an attempt; the POST spent one of the number's budget.
        if (job.create && ex.status == 409 && ex.api.kind == BodyKind::error_envelope && ex.api.error_code == 2014 &&
            !no_new_sends_) {
            job.create = false;
            job.fell_back = true;
            ++report_.create_conflicts;
            job.request.clear();
            encoder_.append_patch(job.request, job.work.number, job.work.fields);
            log(fmt::format("line {} {}: a card exists already (409/2014): sending PATCH", job.work.lines.front(),
                            job.work.number));
            ready_.push_front(job.id);
            pump();
            return;
        }

        // server text is redacted before the policy quotes (and perhaps shortens) it
        const std::string server_message = redact(ex.api.error_message);
        const std::string location = redact(ex.location);
        AttemptResult r;
        r.http_status = ex.status;
        r.transport = ex.error;
        r.transport_detail = ex.error_detail;
        if (ex.status != 0) {
            const ApiResponse& api = ex.api;
            if (api.kind == BodyKind::error_envelope) {
                r.api_code = api.error_code;
                r.api_message = server_message;
                if (api.retry_after_s) r.body_retry_after = seconds_to_duration(*api.retry_after_s);
            }
            if (ex.status >= 200 && ex.status <= 299 && api.kind != BodyKind::card) {
                r.transport = TransportError::garbled;
                ++report_.transport_errors[static_cast<std::size_t>(TransportError::garbled)];
                r.transport_detail = server_message.empty() ? to_string(api.kind) : std::string_view(server_message);
            }
            if (!ex.retry_after.empty()) r.retry_after = parse_retry_after(ex.retry_after, std::chrono::system_clock::now());
            if (!ex.retry_after_ms.empty()) r.retry_after_ms = parse_retry_after_ms(ex.retry_after_ms);
            if (ex.should_retry == "false") r.should_retry = false;
            else if (ex.should_retry == "true") r.should_retry = true;
            r.location = location;
        }
        const Decision d = policy_.classify(r, job.attempts, random_);
        job.last_status = ex.status;
        job.last_code = r.api_code;
        job.last_reason = d.reason;
        job.last_latency_ms = std::chrono::duration<double, std::milli>(ex.latency()).count();
        if (d.verdict == Verdict::failed) ++report_.retries_exhausted;
        if (share_.attempt) {
            AttemptEvent ev = attempt_event(job, ex);
            ev.api_code = r.api_code;
            ev.transport = r.transport;
            ev.verdict = d.verdict;
            if (d.verdict == Verdict::retry && !no_new_sends_) {
                TimePoint due = now + d.delay;
                ev.retry_in_s = to_seconds(std::max(due, budget_.when_allowed(job.work.number, now)) - now);
            }
            ev.reason = redact(d.reason);
            share_.attempt(ev);
        }

        if (d.throttled) {
            ++report_.throttled;
            const double before = bucket_.rate();
            bucket_.set_rate(adaptive_.on_throttle(now, meter_.per_second(now)), now);
            if (bucket_.rate() != before)
                log(fmt::format("throttled ({}): sending at {:.1f} requests/s", d.reason, bucket_.rate()));
        }

        if (ex.certificate_rejected) {
            finish(job, Outcome::failed, d.reason);
            abort_run(fmt::format("{}; pass --cacert FILE when the API uses a private CA", ex.error_detail));
            return;
        }
        if (ex.error == TransportError::connect || ex.error == TransportError::tls) {
            if (pool_->stats().connects == 0 && pool_->stats().connect_failures >= 3) {
                finish(job, Outcome::failed, d.reason);
                abort_run(fmt::format("cannot reach the API: {}", ex.error_detail));
                return;
            }
        }
        switch (d.verdict) {
            case Verdict::success: {
                std::optional<bool> active;
                if (ex.api.kind == BodyKind::card) active = ex.api.card.is_active;
                std::string note;
                if (job.create) note = "created (POST)";
                else if (job.fell_back) note = "a card existed (POST answered 409/2014): updated with PATCH";
                finish(job, Outcome::updated, std::move(note), active);
                count_answer(ex.status, 0, false);
                break;
            }
            case Verdict::permanent:
                count_answer(ex.status, r.api_code, true);
                finish(job, Outcome::rejected, d.reason);
                check_flood();
                break;
            case Verdict::failed:
                count_answer(ex.status, r.api_code, false);
                finish(job, Outcome::failed, d.reason);
                break;
            case Verdict::abort_run:
                finish(job, Outcome::failed, d.reason);
                abort_run(fmt::format("the API refused the key ({}): check LINQ_API_V3_API_KEY or --api-key-file",
                                      describe(r)));
                break;
            case Verdict::retry: {
                if (no_new_sends_) {
                    finish(job, Outcome::failed, d.reason + "; not retried: " + drain_message_);
                    break;
                }
                ++report_.retries;
                TimePoint due = now + d.delay;
                if (d.per_number) budget_.note_server_wait(job.work.number, due);
                due = std::max(due, budget_.when_allowed(job.work.number, now));
                log(fmt::format("line {} {}: {}; attempt {} in {}", job.work.lines.front(), job.work.number,
                                d.reason, job.attempts + 1, seconds_text(due - now)));
                schedule(job, due);
                break;
            }
        }
        pump();
        admit_more();
    }

    AttemptEvent attempt_event(const Job& job, const Exchange& ex) const {
        AttemptEvent ev;
        ev.line = job.work.lines.front();
        ev.number = job.work.number;
        ev.attempt = job.attempts;
        ev.status = ex.status;
        ev.transport = ex.error;
        ev.latency_ms = std::chrono::duration<double, std::milli>(ex.latency()).count();
        return ev;
    }

    // Final answers by (status, code): a run of one permanent error stops early.
    void count_answer(int status, int code, bool permanent) {
        if (status == 0) return;
        ++answers_;
        if (permanent) ++permanent_[{status, code}];
    }

    void check_flood() {
        if (answers_ < static_cast<std::uint64_t>(std::max(1, opt_.flood_min_answers)) || no_new_sends_) return;
        for (const auto& [key, n] : permanent_) {
            if (static_cast<double>(n) > opt_.flood_share * static_cast<double>(answers_)) {
                AttemptResult r;
                r.http_status = key.first;
                r.api_code = key.second;
                abort_run(fmt::format("{} of the first {} answers were the same permanent error, {}; fix the cause, "
                                      "then rerun with --resume",
                                      n, answers_, describe(r)));
                return;
            }
        }
    }

    // --- records ------------------------------------------------------------------------------

    // Records are encoded here and handed to the (shared, locked) writer in batches: one lock per
    // batch, not per row, and the encoding outside it. The flush loop hands over at least every
    // flush_interval, so a record waits no longer than before.
    void write(const ResultRecord& rec) {
        ++report_.outcomes[static_cast<std::size_t>(rec.outcome)];
        append_record(records_, rec, results_.format());
        ++records_count_;
        if (records_.size() >= records_batch) hand_over_records();
    }

    void hand_over_records() {
        if (records_count_ == 0) return;
        results_.write_encoded(records_, records_count_);
        records_.clear();
        records_count_ = 0;
    }

    // Records every row the job carries, then starts the number's next (coalesced) work.
    void finish(Job& job, Outcome outcome, std::string message, std::optional<bool> active = std::nullopt) {
        ResultRecord rec;
        rec.phone_number = job.work.number;
        rec.outcome = outcome;
        rec.http_status = job.last_status;
        rec.error_code = job.last_code ? std::to_string(job.last_code) : std::string();
        rec.attempts = job.attempts;
        rec.latency_ms = job.last_latency_ms;
        rec.is_active = active;
        message = redact(std::move(message));
        for (auto line : job.work.lines) {
            rec.line = line;
            rec.message = message;
            if (job.work.lines.size() > 1) {
                rec.message += rec.message.empty() ? "" : "; ";
                rec.message += "sent as one request with line" + std::string(job.work.lines.size() > 2 ? "s " : " ") +
                               lines_text(job.work.lines, line);
            }
            write(rec);
        }
        const std::string number = job.work.number;
        jobs_.erase(job);
        if (auto next = lanes_.complete(number)) start(std::move(*next));
        maybe_finish();
    }

    // --- stopping -----------------------------------------------------------------------------

    void abort_run(std::string reason) {
        if (report_.aborted || finished_) return;
        report_.aborted = true;
        reason = redact(std::move(reason));
        report_.abort_reason = reason;
        warn("error: " + reason);
        if (share_.on_abort) share_.on_abort(reason);
        drain("not sent: the run stopped (" + reason + ")");
    }

public:
    /// What the run's prefetcher calls when this engine's outlet has rows again (any thread).
    std::function<void()> rows_ready() {
        return [this] { net::post(io_, [this] { admit_more(); }); };
    }

    /// Another engine of the run stopped it (thread-safe: runs on this engine's thread). Its rows
    /// end like an aborted run's; the report of the engine that aborted says why.
    void post_peer_abort(std::string reason) {
        net::post(io_, [this, reason = std::move(reason)] {
            if (!finished_) drain("not sent: the run stopped (" + reason + ")");
        });
    }

private:
    void on_stop_request() {
        if (finished_) return;
        if (++stop_requests_ == 1) {
            report_.interrupted = true;
            log("stopping: waiting up to " + seconds_text(opt_.grace) + " for requests in flight");
            drain("interrupted before it was sent");
            if (!finished_) net::co_spawn(io_, grace_loop(this), rethrow);
        } else {
            cut_in_flight("interrupted before an answer");
        }
    }

    // No more reading or sending; rows not in flight are recorded now, answers in flight still count.
    void drain(std::string message) {
        if (no_new_sends_) return;
        no_new_sends_ = true;
        drain_message_ = std::move(message);
        stop_reading();
        for (auto id : jobs_.ids([](const Job& job) { return !job.in_flight; })) {
            Job* found = jobs_.find(id);
            if (!found) continue;
            Job& job = *found;
            std::string msg = drain_message_;
            if (!job.last_reason.empty()) msg += "; last attempt: " + job.last_reason;
            finish(job, Outcome::failed, msg);
        }
        ready_.clear();
        token_timer_.cancel();
        retry_wake_.cancel();
        maybe_finish();
    }

    void cut_in_flight(const std::string& message) {
        drain(message);
        for (auto id : jobs_.ids([](const Job&) { return true; }))
            if (Job* job = jobs_.find(id)) finish(*job, Outcome::failed, message);
        maybe_finish();
    }

    void stop_reading() {
        if (reading_stopped_) return;
        reading_stopped_ = true;
        // the next row, if already read ahead, names the first line not reached (never waits)
        RowPrefetcher::CheckedRow* row = nullptr;
        const auto next = take_row(row);
        if (next == RowPrefetcher::Next::row) report_.first_line_not_reached = row->line;
        else if (next == RowPrefetcher::Next::end && !input_error_) report_.input_exhausted = true;
        prefetch_->stop();
    }

    // The outlet's next row. An input error (a read failing part way) ends the input here: it is
    // kept and rethrown by run() once every row already read has its record, instead of leaving
    // through whatever handler happened to ask for a row, with rows still in flight.
    RowPrefetcher::Next take_row(RowPrefetcher::CheckedRow*& row) {
        try {
            return prefetch_->try_next(row, outlet_);
        } catch (...) {
            input_error_ = std::current_exception();
            return RowPrefetcher::Next::end;
        }
    }
    std::string input_error_text() const {
        try {
            std::rethrow_exception(input_error_);
        } catch (const std::exception& e) {
            return e.what();
        } catch (...) {
            return "unknown error";
        }
    }

    void maybe_finish() {
        if (finished_ || !reading_stopped_ || !jobs_.empty()) return;
        finished_ = true;
        hand_over_records();
        results_.flush();
        pool_->shutdown();
        token_timer_.cancel();
        retry_wake_.cancel();
        flush_timer_.cancel();
        progress_timer_.cancel();
        grace_timer_.cancel();
        boost::system::error_code ec;
        signals_.cancel(ec);
    }

    const ApplyOptions& opt_;
    const EngineShare share_;
    ResultsWriter& results_;
    StopSignal& stop_;
    ApiEndpoint endpoint_;
    RequestEncoder encoder_;
    RetryPolicy policy_;
    Random random_;
    TimePoint start_;
    TokenBucket bucket_;
    AdaptiveRate adaptive_;
    NumberBudget budget_;
    Lanes lanes_;
    SendMeter meter_;
    // One thread runs it; other threads only post (StopSignal), which the scheduler still locks.
    net::io_context io_{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
    RowPrefetcher* prefetch_ = nullptr;  // the caller's; stopped and joined before this engine goes
    std::size_t outlet_ = 0;
    timer token_timer_, retry_wake_, flush_timer_, progress_timer_, grace_timer_;
    TimePoint token_due_ = TimePoint::max();  ///< when token_loop wakes to pump again
    bool pumping_ = false;
    bool admitting_ = false;
    net::signal_set signals_;
    std::optional<ConnectionPool> pool_;
    std::optional<SyncPlanner> planner_;             // with a snapshot
    std::unordered_set<std::uint64_t> create_lines_; // lines admitted as creates, not started yet

    JobTable jobs_;
    std::deque<std::uint64_t> ready_;
    using Due = std::pair<TimePoint, std::uint64_t>;
    std::priority_queue<Due, std::vector<Due>, std::greater<>> waiting_;
    std::size_t target_active_ = 0;
    TimePoint next_slot_{};  // the next free slot of the fixed-rate schedule (intended sends)
    std::uint64_t answers_ = 0;
    std::map<std::pair<int, int>, std::uint64_t> permanent_;
    int stop_requests_ = 0;
    bool reading_stopped_ = false;
    bool no_new_sends_ = false;
    std::exception_ptr input_error_;  // what reading the input threw: rethrown by run() at the end
    bool finished_ = false;
    std::string drain_message_;
    static constexpr std::size_t records_batch = 16 * 1024;
    std::string records_;              // encoded records not yet handed to the writer
    std::uint64_t records_count_ = 0;  // how many
    ApplyReport report_;
};

}  // namespace

std::uint64_t ApplyReport::records() const noexcept {
    std::uint64_t n = 0;
    for (auto c : outcomes) n += c;
    return n;
}

int ApplyReport::exit_status() const noexcept {
    if (interrupted) return exit_interrupted;
    if (aborted) return exit_aborted;
    return records() == count(Outcome::updated) + count(Outcome::skipped) ? exit_ok : exit_rows_failed;
}

std::string ApplyReport::summary() const {
    std::string text = summary_text(*this, RunContext{});
    if (!text.empty()) text.pop_back();  // the caller ends the line
    return text;
}

PoolOptions pool_options(const ApplyOptions& options, const ApiEndpoint& endpoint) {
    PoolOptions po;
    po.endpoint = endpoint;
    po.connections = options.connections;
    po.pipeline = options.pipeline;
    po.attempt_timeout = options.attempt_timeout;
    po.connect_timeout = options.connect_timeout;
    po.cacert = options.cacert;
    po.insecure = options.insecure;
    po.log = options.log;
    po.card_text = CardText::checked;  // the engine reads only is_active of a card answer
    return po;
}

void add_counts(ApplyReport& into, const ApplyReport& x) {
    for (std::size_t i = 0; i < into.outcomes.size(); ++i) into.outcomes[i] += x.outcomes[i];
    for (const auto& [k, n] : x.statuses) into.statuses[k] += n;
    for (const auto& [k, n] : x.api_codes) into.api_codes[k] += n;
    for (std::size_t i = 0; i < into.transport_errors.size(); ++i) into.transport_errors[i] += x.transport_errors[i];
    into.rows_read += x.rows_read;
    into.requests += x.requests;
    into.retries += x.retries;
    into.resends += x.resends;
    into.coalesced += x.coalesced;
    into.throttled += x.throttled;
    into.unchanged += x.unchanged;
    into.creates += x.creates;
    into.create_conflicts += x.create_conflicts;
    into.retries_exhausted += x.retries_exhausted;
    into.pool.connects += x.pool.connects;
    into.pool.connect_failures += x.pool.connect_failures;
    into.pool.tls_resumed += x.pool.tls_resumed;
    into.pool.closes_by_server += x.pool.closes_by_server;
    into.pool.timeouts += x.pool.timeouts;
    into.pool.requests += x.pool.requests;
    into.pool.answers += x.pool.answers;
    into.pool.max_in_flight = std::max(into.pool.max_in_flight, x.pool.max_in_flight);
    into.latency.merge(x.latency);
    into.intended_latency.merge(x.intended_latency);
}

namespace {

// Several engines (--threads N), each on a thread of its own with its own io_context, pool and
// share of the rate; one reader thread hands each row to the engine its number hashes to. This
// thread catches signals, merges progress, and waits for the engines.
class ThreadedRun {
public:
    ThreadedRun(const ApplyOptions& options, ResultsWriter& results)
        : opt_(options), n_(static_cast<std::size_t>(options.threads)), stops_(n_), latest_(n_), reports_(n_) {
        if (options.connections < options.threads)
            throw std::invalid_argument(fmt::format("--threads {} needs at least as many connections (--connections is {})",
                                                    options.threads, options.connections));
        const auto connections = static_cast<std::size_t>(options.connections);
        for (std::size_t i = 0; i < n_; ++i) {
            EngineShare s;
            s.index = i;
            s.connections = static_cast<int>(connections / n_ + (i < connections % n_ ? 1 : 0));
            s.rate = options.rate / static_cast<double>(n_);
            s.burst = options.burst / static_cast<double>(n_);
            // memory bounds shared out too, so N engines hold what one would
            s.max_admitted = std::max<std::size_t>(1, options.max_admitted / n_);
            s.budget_cap = (NumberBudget::default_max_tracked + n_ - 1) / n_;
            // "thread 2: connection 0: …": each engine numbers its own connections
            if (options.log)
                s.log = [this, i](std::string_view line) { say(opt_.log, fmt::format("thread {}: {}", i, line)); };
            s.warn = [this](std::string_view line) { say(opt_.warn ? opt_.warn : print_warning, line); };
            if (options.attempt)
                s.attempt = [this](const AttemptEvent& ev) {
                    std::lock_guard lock(out_mutex_);
                    opt_.attempt(ev);
                };
            if (options.progress)
                s.progress = [this, i](const ProgressSnapshot& p) {
                    std::lock_guard lock(progress_mutex_);
                    latest_[i] = p;
                };
            s.on_abort = [this, i](const std::string& reason) {
                for (std::size_t j = 0; j < n_; ++j)
                    if (j != i) engines_[j]->post_peer_abort(reason);
            };
            engines_.push_back(std::make_unique<Engine>(options, std::move(s), results, stops_[i]));
        }
    }

    ApplyReport run(RowReader& reader, StopSignal& stop) {
        const TimePoint start = Clock::now();
        // after the engines: joined before they go; the queues share what one engine's would hold
        RowPrefetcher prefetch(reader, std::max<std::size_t>(512, 4096 / n_), n_);
        for (std::size_t i = 0; i < n_; ++i) prefetch.on_ready(i, engines_[i]->rows_ready());

        net::io_context io{1};
        auto busy = net::make_work_guard(io);
        net::signal_set signals(io);
        timer tick(io.get_executor());
        std::size_t running = n_;
        std::function<void(boost::system::error_code, int)> on_signal = [&](boost::system::error_code ec, int signo) {
            if (ec) return;
            if (opt_.log) say(opt_.log, fmt::format("signal {} received", signo));
            stop_all();
            signals.async_wait(on_signal);
        };
        if (opt_.handle_signals) {
            signals.add(SIGINT);
            signals.add(SIGTERM);
            signals.async_wait(on_signal);
        }
        std::function<void(boost::system::error_code)> on_tick = [&](boost::system::error_code ec) {
            if (ec || running == 0) return;
            report_progress(start);
            tick.expires_at(Clock::now() + opt_.progress_interval);
            tick.async_wait(on_tick);
        };
        if (opt_.progress && opt_.progress_interval > Duration::zero()) {
            tick.expires_at(start + opt_.progress_interval);
            tick.async_wait(on_tick);
        }

        stop.set_listener([this] { stop_all(); });
        struct Unlisten {
            StopSignal& s;
            ~Unlisten() { s.set_listener(nullptr); }
        } unlisten{stop};

        prefetch.start();
        std::vector<std::thread> threads;
        std::exception_ptr first_error;
        std::mutex error_mutex;
        for (std::size_t i = 0; i < n_; ++i) {
            threads.emplace_back([&, i] {
                try {
                    reports_[i] = engines_[i]->run(prefetch, i);
                } catch (...) {
                    {
                        std::lock_guard lock(error_mutex);
                        if (!first_error) first_error = std::current_exception();
                    }
                    // cut the others short: what they would record no longer adds up to a run
                    for (std::size_t j = 0; j < n_; ++j) {
                        if (j == i) continue;
                        stops_[j].request_stop();
                        stops_[j].request_stop();
                    }
                }
                net::post(io, [&] {
                    if (--running > 0) return;
                    boost::system::error_code ignored;
                    signals.cancel(ignored);
                    tick.cancel();
                    busy.reset();
                });
            });
        }
        io.run();
        for (auto& t : threads) t.join();
        if (first_error) std::rethrow_exception(first_error);

        ApplyReport r;
        for (const auto& x : reports_) {
            add_counts(r, x);
            if (x.aborted && !r.aborted) {
                r.aborted = true;
                r.abort_reason = x.abort_reason;
            }
            r.interrupted = r.interrupted || x.interrupted;
            r.last_line_read = std::max(r.last_line_read, x.last_line_read);
            if (x.first_line_not_reached)
                r.first_line_not_reached =
                    std::min(*x.first_line_not_reached, r.first_line_not_reached.value_or(*x.first_line_not_reached));
            r.final_rate += x.final_rate;
        }
        r.input_exhausted = std::all_of(reports_.begin(), reports_.end(), [](const auto& x) { return x.input_exhausted; });
        r.target_rate = opt_.rate;
        r.elapsed_s = to_seconds(Clock::now() - start);
        r.peak_rss_kib = peak_rss_kib();
        return r;
    }

private:
    void say(const std::function<void(std::string_view)>& to, std::string_view line) {
        std::lock_guard lock(out_mutex_);
        to(line);
    }

    // Each engine counts the requests it was given, so a second stop cuts every engine short.
    void stop_all() {
        for (auto& s : stops_) s.request_stop();
    }

    // The engines' latest figures, summed (each is at most one interval old).
    void report_progress(TimePoint start) {
        ProgressSnapshot m;
        bool total_known = true;
        {
            std::lock_guard lock(progress_mutex_);
            for (const auto& p : latest_) {
                if (!p) {
                    total_known = false;
                    continue;
                }
                m.rows_read += p->rows_read;
                m.rows_done += p->rows_done;
                total_known = total_known && p->rows_total > 0;
                m.rows_total += p->rows_total;
                m.bytes_read = std::max(m.bytes_read, p->bytes_read);  // the one reader got at least this far
                m.updated += p->updated;
                m.skipped += p->skipped;
                m.rejected += p->rejected;
                m.failed += p->failed;
                m.invalid += p->invalid;
                m.requests += p->requests;
                m.in_flight += p->in_flight;
                m.waiting += p->waiting;
                m.rate_now += p->rate_now;
            }
        }
        if (!total_known) m.rows_total = 0;
        m.elapsed_s = to_seconds(Clock::now() - start);
        opt_.progress(m);
    }

    const ApplyOptions& opt_;
    const std::size_t n_;
    std::vector<StopSignal> stops_;  // one per engine: a stop reaches each through its own
    std::vector<std::unique_ptr<Engine>> engines_;
    std::mutex out_mutex_;  // log, warn and attempt lines: one engine at a time
    std::mutex progress_mutex_;
    std::vector<std::optional<ProgressSnapshot>> latest_;
    std::vector<ApplyReport> reports_;
};

}  // namespace

ApplyReport run_apply(const ApplyOptions& options, RowReader& reader, ResultsWriter& results, StopSignal& stop) {
    if (options.threads > 1) return ThreadedRun(options, results).run(reader, stop);
    Engine engine(options, EngineShare::whole(options), results, stop);
    RowPrefetcher prefetch(reader);  // after the engine: stopped and joined (no more posts) before it goes
    prefetch.on_ready(0, engine.rows_ready());
    prefetch.start();
    return engine.run(prefetch, 0);
}

}  // namespace cardsync
