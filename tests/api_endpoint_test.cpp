#include "cardsync/api_endpoint.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace {

using cardsync::parse_api_endpoint;

struct Good {
    const char* url;
    bool tls;
    const char* host;
    const char* port;
    const char* host_header;
    const char* base_path;
};

TEST(ApiEndpoint, ParsesWhatUsersWrite) {
    const Good cases[] = {
        {"https://api.linqapp.com/api/partner", true, "api.linqapp.com", "443", "api.linqapp.com", "/api/partner"},
        {"https://api.linqapp.com/api/partner/", true, "api.linqapp.com", "443", "api.linqapp.com", "/api/partner"},
        {"HTTPS://API.Linqapp.com", true, "api.linqapp.com", "443", "api.linqapp.com", ""},
        {"https://example.com:8443/x", true, "example.com", "8443", "example.com:8443", "/x"},
        {"http://127.0.0.1:8080/api/partner", false, "127.0.0.1", "8080", "127.0.0.1:8080", "/api/partner"},
        {"http://localhost/api", false, "localhost", "80", "localhost", "/api"},
        {"http://[::1]:9000/", false, "::1", "9000", "[::1]:9000", ""},
        {"https://127.0.0.1:443/a", true, "127.0.0.1", "443", "127.0.0.1", "/a"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.url);
        const auto ep = parse_api_endpoint(c.url);
        EXPECT_EQ(ep.tls, c.tls);
        EXPECT_EQ(ep.host, c.host);
        EXPECT_EQ(ep.port, c.port);
        EXPECT_EQ(ep.host_header, c.host_header);
        EXPECT_EQ(ep.base_path, c.base_path);
    }
}

TEST(ApiEndpoint, RefusesWhatCannotBeRight) {
    const std::pair<const char*, const char*> cases[] = {
        {"api.linqapp.com/api/partner", "absolute URL"},
        {"ftp://api.linqapp.com/", "scheme"},
        {"https:///api", "no host"},
        {"https://user:pw@api.linqapp.com/", "user info"},
        {"https://api.linqapp.com/api?x=1", "query"},
        {"http://api.linqapp.com/api/partner", "clear text"},
        {"http://10.0.0.5:8080/", "clear text"},
        {"http://127.0.0.1.evil.com/", "not a valid name"},
        {"https://10.0.0.1.example.com/", "not a valid name"},
    };
    for (const auto& [url, why] : cases) {
        SCOPED_TRACE(url);
        try {
            parse_api_endpoint(url);
            ADD_FAILURE() << "accepted";
        } catch (const std::invalid_argument& e) {
            EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find(url), std::string::npos) << e.what();
        }
    }
}

TEST(ApiEndpoint, PlainHttpToOtherHostsOnlyWhenAllowed) {
    const auto ep = parse_api_endpoint("http://10.0.0.5:8080/api", true);
    EXPECT_FALSE(ep.tls);
    EXPECT_EQ(ep.host, "10.0.0.5");
}

TEST(ApiEndpoint, Loopback) {
    for (const char* h : {"localhost", "127.0.0.1", "127.1.2.3", "::1"}) EXPECT_TRUE(cardsync::is_loopback_host(h)) << h;
    for (const char* h : {"127.0.0", "127.0.0.1.x", "128.0.0.1", "10.0.0.1", "localhost.com", "127..0.1", "1270.0.0.1"})
        EXPECT_FALSE(cardsync::is_loopback_host(h)) << h;
}

}  // namespace
