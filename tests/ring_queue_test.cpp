#include "cardsync/ring_queue.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <random>
#include <string>

using cardsync::RingQueue;

TEST(RingQueue, IsFirstInFirstOut) {
    RingQueue<int> q;
    EXPECT_TRUE(q.empty());
    for (int i = 0; i < 3; ++i) q.push_back(i);
    EXPECT_EQ(q.size(), 3u);
    EXPECT_EQ(q.front(), 0);
    EXPECT_EQ(q[2], 2);
    EXPECT_EQ(q.take_front(), 0);
    EXPECT_EQ(q.take_front(), 1);
    EXPECT_EQ(q.take_front(), 2);
    EXPECT_TRUE(q.empty());
}

// Growing while the front is in the middle of the ring (wrapped) keeps the order.
TEST(RingQueue, GrowsWithItsElementsInOrderWhenWrapped) {
    RingQueue<std::string> q;
    for (int i = 0; i < 4; ++i) q.push_back(std::to_string(i));  // fills the first ring (4 slots)
    EXPECT_EQ(q.take_front(), "0");
    EXPECT_EQ(q.take_front(), "1");
    for (int i = 4; i < 7; ++i) q.push_back(std::to_string(i));  // wraps, then grows at the fifth
    ASSERT_EQ(q.size(), 5u);
    for (int i = 2; i < 7; ++i) EXPECT_EQ(q.take_front(), std::to_string(i));
}

// Against std::deque over random pushes and takes, growing and wrapping many times.
TEST(RingQueue, BehavesAsADequeUsedAsAQueue) {
    std::mt19937 random(7);
    RingQueue<std::unique_ptr<int>> q;
    std::deque<int> model;
    int next = 0;
    for (int step = 0; step < 20'000; ++step) {
        const bool push = model.empty() || random() % 100 < (step < 10'000 ? 55u : 45u);
        if (push) {
            q.push_back(std::make_unique<int>(next));
            model.push_back(next++);
        } else if (random() % 10 == 0) {
            const std::size_t n = random() % (model.size() + 1);
            const auto taken = q.take_front(n);
            ASSERT_EQ(taken.size(), n);
            for (const auto& p : taken) {
                ASSERT_EQ(*p, model.front());
                model.pop_front();
            }
        } else {
            ASSERT_EQ(*q.take_front(), model.front());
            model.pop_front();
        }
        ASSERT_EQ(q.size(), model.size());
        if (!model.empty()) {
            ASSERT_EQ(*q.front(), model.front());
            ASSERT_EQ(*q[model.size() - 1], model.back());
        }
    }
    q.clear();
    EXPECT_TRUE(q.empty());
    q.push_back(std::make_unique<int>(1));
    EXPECT_EQ(*q.front(), 1);
}
