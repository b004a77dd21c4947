package mmap

const sysStatx = 291 // statx on linux/arm64
