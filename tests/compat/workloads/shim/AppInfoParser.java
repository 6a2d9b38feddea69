package org.apache.kafka.common.utils;

/**
 * connect-file is not served at 4.4.0, and the newest served one (4.3.x) calls
 * org.apache.kafka.common.utils.AppInfoParser.getVersion(), which kafka-clients 4.4.0 moved to
 * org.apache.kafka.common.utils.internals. Without this class, FileStreamSourceConnector.version()
 * throws NoClassDefFoundError and Connect 4.4.0 refuses the connector configs. ConnectWorkload puts
 * it on its workers' classpath only when kafka-clients lacks the old class.
 */
public final class AppInfoParser {
    private AppInfoParser() {}

    public static String getVersion() {
        return org.apache.kafka.common.utils.internals.AppInfoParser.getVersion();
    }
}
