package mmap

const sysStatx = 332 // statx on linux/amd64
