#include "cardsync/stop_signal.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace {

TEST(StopSignal, CountsRequestsAndCallsTheListener) {
    cardsync::StopSignal stop;
    EXPECT_EQ(stop.requests(), 0);
    int heard = 0;
    stop.set_listener([&heard] { ++heard; });
    stop.request_stop();
    stop.request_stop();
    EXPECT_EQ(stop.requests(), 2);
    EXPECT_EQ(heard, 2);
}

TEST(StopSignal, RequestsMadeBeforeTheListenerAreDeliveredWhenItIsInstalled) {
    cardsync::StopSignal stop;
    stop.request_stop();
    int heard = 0;
    stop.set_listener([&heard] { ++heard; });
    EXPECT_EQ(heard, 1);
}

TEST(StopSignal, RemovedListenerIsNeverCalledAgain) {
    cardsync::StopSignal stop;
    std::atomic<int> heard{0};
    stop.set_listener([&heard] { ++heard; });
    std::thread other([&stop] {
        for (int i = 0; i < 1000; ++i) stop.request_stop();
    });
    stop.set_listener(nullptr);
    const int after_removal = heard.load();
    other.join();
    EXPECT_EQ(heard.load(), after_removal);
    EXPECT_EQ(stop.requests(), 1000);
}

}  // namespace
