# Install rules and the Debian package (cpack -G DEB), docs/operations.md
# "Installing the package". The package is built without debhelper, so
# what dh_* would add by hand is here: conffiles, maintainer scripts, the
# copyright and changelog files, compressed man pages.
#
# System integration files (units, tmpfiles, /etc) have absolute
# destinations: they belong where the OS looks for them whatever the
# prefix. A plain `cmake --install` with another prefix still writes them.

set(twist_sysdir ${CMAKE_SOURCE_DIR}/deploy)
set(twist_debdir ${CMAKE_SOURCE_DIR}/deploy/debian)
set(twist_docdir ${CMAKE_INSTALL_DATAROOTDIR}/doc/twist)

# bookworm's systemd and lintian still look in /lib/systemd/system.
install(FILES ${twist_sysdir}/systemd/twist-relay.service ${twist_sysdir}/systemd/twist-syncd.service
	${twist_sysdir}/systemd/twist-ha.service
	DESTINATION /lib/systemd/system)
install(FILES ${twist_sysdir}/systemd/twist.tmpfiles.conf
	DESTINATION /usr/lib/tmpfiles.d RENAME twist.conf)
install(FILES ${twist_sysdir}/twist-relay.example.yaml
	DESTINATION /etc/twist RENAME twist-relay.yaml)
install(FILES ${twist_sysdir}/twist-syncd.example.env
	DESTINATION /etc/twist RENAME twist-syncd.env)
install(FILES ${twist_sysdir}/keepalived/keepalived.conf ${twist_sysdir}/pair/ha.env
	${twist_sysdir}/pair/twist-relay.pair.yaml
	${twist_sysdir}/systemd/keepalived.service.d/twist.conf
	DESTINATION ${twist_docdir}/examples)

# Man pages and the Debian changelog, compressed as lintian wants them:
# gzip -9n (no name or time stamp, so the package is reproducible).
find_program(TWIST_GZIP gzip REQUIRED)
set(twist_man_pages twist-relay.8 twist-syncd.8 twist-ha.8 twistctl.8 twist-client.8 twist-ice.8
	twist-relay.yaml.5)
set(twist_gz_out)
foreach(page ${twist_man_pages})
	string(REGEX MATCH "[0-9]$" section ${page})
	set(gz ${CMAKE_BINARY_DIR}/man/${page}.gz)
	add_custom_command(OUTPUT ${gz}
		COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
		COMMAND ${TWIST_GZIP} -9n -c ${CMAKE_SOURCE_DIR}/man/${page} > ${gz}
		DEPENDS ${CMAKE_SOURCE_DIR}/man/${page} VERBATIM)
	install(FILES ${gz} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
	list(APPEND twist_gz_out ${gz})
endforeach()

set(TWIST_DEB_RELEASE 1)
set(twist_changelog ${CMAKE_BINARY_DIR}/debian/changelog.Debian)
configure_file(${twist_debdir}/changelog.Debian.in ${twist_changelog} @ONLY)
add_custom_command(OUTPUT ${twist_changelog}.gz
	COMMAND ${TWIST_GZIP} -9n -f -k ${twist_changelog}
	DEPENDS ${twist_changelog} VERBATIM)
list(APPEND twist_gz_out ${twist_changelog}.gz)
add_custom_target(twist_compressed ALL DEPENDS ${twist_gz_out})
install(FILES ${twist_changelog}.gz ${twist_debdir}/copyright DESTINATION ${twist_docdir})
install(FILES ${twist_debdir}/lintian-overrides
	DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/lintian/overrides RENAME twist)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME twist)
set(CPACK_PACKAGE_VENDOR "The twist authors")
set(CPACK_PACKAGE_CONTACT "The twist authors <twist@example.org>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
	OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE ${TWIST_DEB_RELEASE})
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://example.org/twist")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# postinst creates the twist user with adduser.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "keepalived")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "high-availability STUN/TURN relay")
# The body only: CPack puts the summary on the first line, indents the
# rest and turns empty lines into " .".
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "twist serves STUN and TURN (RFC 8489, RFC 8656) over UDP and TCP, for
WebRTC, VoIP and conferencing clients behind NATs and firewalls.

Two nodes run as an active/standby pair behind one virtual IP address
held by keepalived. twist-syncd replicates every allocation, permission
and channel binding to the standby, which binds its sockets in advance,
so a failover costs a short packet gap and no session.

This package holds twist-relay, twist-syncd, twist-ha, their systemd
units and an example configuration. No service is enabled on install.")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
	${twist_debdir}/conffiles ${twist_debdir}/postinst ${twist_debdir}/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
